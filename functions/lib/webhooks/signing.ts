/**
 * Callback signatures, made with the archive signing key (ES256, P-256; KMS in AWS) so receivers need
 * one public key set: GET /.well-known/jwks.json.
 *
 * - Native callbacks: `X-DSR-Signature` is a JWS with a detached payload (RFC 7515 appendix F),
 *   `base64url(header)..base64url(signature)`, header `{"alg":"ES256","kid":...,"typ":"dsr-callback+jws"}`.
 *   To verify: take the raw body bytes, rebuild `header.base64url(body).signature`, and check it with
 *   the JWKS key named by `kid` (any JOSE library does this), and check `typ`.
 * - Processor notices (erasure webhooks to processors): the same form with
 *   `"typ":"dsr-processor-notice+jws"`, so a notice cannot be replayed to a support system as a
 *   status callback, nor a callback to a processor as a deletion order.
 * - OpenDSR callbacks: `X-OpenDSR-Signature` is the base64 (standard alphabet) DER ECDSA P-256 SHA-256
 *   signature over the raw body (what `openssl dgst -sha256 -verify key.pem -signature sig.der` checks);
 *   `X-OpenDSR-Processor-Domain` names our domain; `X-OpenDSR-Key-Id` names the JWKS key. The format
 *   has no header to carry a type, but it cannot pass for a JWS either: a JWS signs the ASCII
 *   `base64url(header).base64url(payload)`, never a body starting with `{`.
 */
import { verify as cryptoVerify } from 'node:crypto';
import {
  joseToDerSignature,
  keyFromJwk,
  JWS_TYPES,
  signDetached,
  verifyDetached,
  type Jwks,
  type JwsSigner,
} from '../crypto/jws';

export const DSR_SIGNATURE_HEADER = 'x-dsr-signature';
const DSR_KEY_ID_HEADER = 'x-dsr-key-id';
export const OPENDSR_SIGNATURE_HEADER = 'x-opendsr-signature';
export const OPENDSR_DOMAIN_HEADER = 'x-opendsr-processor-domain';
export const OPENDSR_KEY_ID_HEADER = 'x-opendsr-key-id';

/**
 * The kinds sent with `X-DSR-Signature`: status callbacks, processor notices (erasure), restriction
 * notices to recipients (`dsr-restriction-notice+jws`) and transfer notices to another controller
 * (`dsr-transfer+jws`).
 */
export type DsrSignedKind =
  | typeof JWS_TYPES.callback
  | typeof JWS_TYPES.processorNotice
  | typeof JWS_TYPES.restrictionNotice
  | typeof JWS_TYPES.transferNotice;

export async function dsrSignatureHeaders(
  body: Buffer,
  signer: JwsSigner,
  typ: DsrSignedKind = JWS_TYPES.callback,
): Promise<Record<string, string>> {
  const jws = await signDetached(body, signer, { typ });
  return { [DSR_SIGNATURE_HEADER]: jws, [DSR_KEY_ID_HEADER]: await signer.keyId() };
}

export async function openDsrSignatureHeaders(
  body: Buffer,
  signer: JwsSigner,
  processorDomain: string,
): Promise<Record<string, string>> {
  const raw = await signer.sign(body);
  return {
    [OPENDSR_DOMAIN_HEADER]: processorDomain,
    [OPENDSR_SIGNATURE_HEADER]: joseToDerSignature(raw).toString('base64'),
    [OPENDSR_KEY_ID_HEADER]: await signer.keyId(),
  };
}

/** What a receiver does with a native callback: true when the body is ours, unaltered. */
export async function verifyDsrCallback(body: Buffer, signatureHeader: string, jwks: Jwks): Promise<boolean> {
  return verifyDsrMessage(body, signatureHeader, jwks, JWS_TYPES.callback);
}

/** What a processor does with an erasure notice: true when the body is ours, unaltered, and a notice. */
export async function verifyProcessorNotice(
  body: Buffer,
  signatureHeader: string,
  jwks: Jwks,
): Promise<boolean> {
  return verifyDsrMessage(body, signatureHeader, jwks, JWS_TYPES.processorNotice);
}

/** What a receiver does with a signed message of one kind: true when the body is ours, unaltered, of that kind. */
export async function verifyDsrMessage(
  body: Buffer,
  signatureHeader: string,
  jwks: Jwks,
  typ: DsrSignedKind,
): Promise<boolean> {
  return (await verifyDetached(signatureHeader, body, { jwks }, { typ })).ok;
}

/** What a receiver does with an OpenDSR callback, given our JWKS. */
export function verifyOpenDsrCallback(
  body: Buffer,
  signatureB64: string,
  keyId: string,
  jwks: Jwks,
): boolean {
  const jwk = jwks.keys.find((k) => k.kid === keyId);
  if (!jwk) return false;
  return cryptoVerify(
    'sha256',
    body,
    { key: keyFromJwk(jwk), dsaEncoding: 'der' },
    Buffer.from(signatureB64, 'base64'),
  );
}
