/**
 * Issue 4: GET /v1/requests/{requestId}/certificate — the erasure certificate (the latest, or `?number=n`
 * for an earlier one: each run re-issues it). `Accept: application/jose` gets the compact JWS as stored;
 * anything else gets JSON `{certificate, payload, kid, number}` (payload = the decoded, signed JSON).
 * Verify it against GET /.well-known/jwks.json (docs/erasure.md).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { certificateKey, type CertificatePayload } from '../../lib/erasure/certificate';
import { principalOf, requireRole, type Role } from '../auth';
import type { ApiDeps, CertificateReader } from '../deps';
import { ApiError, headerOf, json, queryOf, type ApiEvent, type ApiResult } from '../http';
import type { Route } from '../router';
import { isRequestId } from '../../lib/requests/request-id';

const READERS: readonly Role[] = ['support', 'legal', 'auditor'];

export class S3CertificateReader implements CertificateReader {
  constructor(private readonly s3: S3Client) {}

  async read(bucket: string, key: string): Promise<string | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return out.Body ? await out.Body.transformToString('utf8') : undefined;
    } catch (error) {
      const err = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404)
        return undefined;
      throw error;
    }
  }
}

export async function getCertificate(deps: ApiDeps, event: ApiEvent, requestId: string): Promise<ApiResult> {
  requireRole(principalOf(event), READERS);
  const query = queryOf(event);
  const unknown = Object.keys(query).find((k) => k !== 'number');
  if (unknown)
    throw new ApiError(400, 'UNKNOWN_PARAMETER', `Unknown query parameter: ${unknown.slice(0, 64)}`);
  if (query.number !== undefined && !/^[1-9][0-9]{0,5}$/.test(query.number))
    throw new ApiError(400, 'INVALID_PARAMETER', 'number must be a certificate number (1, 2, ...)');
  const record = isRequestId(requestId) ? await deps.requests.get(requestId) : undefined;
  if (!record) throw new ApiError(404, 'REQUEST_NOT_FOUND', 'No such request');
  const latest = record.certificate;
  if (!latest) throw new ApiError(404, 'CERTIFICATE_NOT_FOUND', 'This request has no certificate (yet)');
  const number = query.number === undefined ? latest.number : Number(query.number);
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
  {
    method: 'GET',
    pattern: /^\/v1\/requests\/([^/]+)\/certificate$/,
    path: '/v1/requests/{requestId}/certificate',
    operationId: 'getErasureCertificate',
    summary: "An erasure's signed certificate (Accept: application/jose for the bare JWS)",
    access: READERS,
    query: [
      {
        name: 'number',
        description: 'An earlier certificate (default: the latest)',
        schema: { type: 'integer', minimum: 1 },
      },
    ],
    responseType: 'application/json',
    responses: { '200': 'The certificate', '404': 'No such request or no certificate yet' },
    handler: (deps, event, [id]) => getCertificate(deps, event, id ?? ''),
  },
];
