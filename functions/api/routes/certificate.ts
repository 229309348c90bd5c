/**
 * GET /v1/requests/{requestId}/certificate — the erasure certificate (the latest, or `?number=n`
 * for an earlier one: each run re-issues it). `Accept: application/jose` gets the compact JWS as stored;
 * anything else gets JSON `{certificate, payload, kid, number}` (payload = the decoded, signed JSON).
 * Verify it against GET /.well-known/jwks.json (docs/erasure.md).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { certificateKey, type CertificatePayload } from '../../lib/erasure/certificate';
import { ROLES } from '../auth';
import type { ApiDeps, CertificateReader } from '../deps';
import { ApiError, headerOf, json, type ApiEvent, type ApiResult } from '../http';
import { loadRequest, type Caller } from '../request-lookup';
import { defineRoute, type Route } from '../router';
import { strictQuery } from '../schemas';
import { isNoSuchObject } from '../../lib/aws/s3-objects';

export class S3CertificateReader implements CertificateReader {
  constructor(private readonly s3: S3Client) {}

  async read(bucket: string, key: string): Promise<string | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return out.Body ? await out.Body.transformToString('utf8') : undefined;
    } catch (error) {
      if (isNoSuchObject(error)) return undefined;
      throw error;
    }
  }
}

export async function getCertificate(
  deps: ApiDeps,
  event: ApiEvent,
  caller: Caller,
  requestId: string,
  wanted: number | undefined,
): Promise<ApiResult> {
  const record = await loadRequest(deps, caller, requestId);
  const latest = record.certificate;
  if (!latest) throw new ApiError(404, 'CERTIFICATE_NOT_FOUND', 'This request has no certificate (yet)');
  const number = wanted ?? latest.number;
  if (number > latest.number)
    throw new ApiError(404, 'CERTIFICATE_NOT_FOUND', 'No certificate of that number');
  const jws = await deps.certificates.read(latest.bucket, certificateKey(requestId, number));
  if (!jws) throw new ApiError(404, 'CERTIFICATE_NOT_FOUND', 'No certificate of that number');
  if (/application\/jose/i.test(headerOf(event, 'accept') ?? '')) {
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/jose', 'cache-control': 'no-store' },
      body: jws,
    };
  }
  const [, encodedPayload = ''] = jws.split('.');
  const payload = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8')) as CertificatePayload;
  return json(200, { certificate: jws, payload, kid: latest.kid, number, latest: number === latest.number });
}

export const certificateRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/v1/requests/{requestId}/certificate',
    operationId: 'getErasureCertificate',
    summary: "An erasure's signed certificate (Accept: application/jose for the bare JWS)",
    access: ROLES,
    query: strictQuery({
      number: {
        type: 'integer',
        minimum: 1,
        maximum: 999_999,
        description: 'An earlier certificate (1, 2, ...; default: the latest)',
      },
    }),
    responses: {
      '200': {
        description: 'The certificate (the bare JWS with Accept: application/jose)',
        content: ['application/json', 'application/jose'],
      },
      '404': "No such request (or another service's) or no certificate yet",
    },
    handler: (deps, { event, principal, scope, params, query }) =>
      getCertificate(deps, event, { principal, scope }, params.requestId, query.number),
  }),
];
