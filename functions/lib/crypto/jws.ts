/**
 * JSON Web Signatures (RFC 7515) with ES256 only: compact serialisation, and the detached-payload
 * form of appendix F (`header..signature`) used for archive manifests. `b64` stays at its default
 * (true), so any standard JOSE library or plain openssl can check a signature: the signing input is
 * `base64url(header) + '.' + base64url(payload)`. Pure crypto, no I/O: keys come from the caller.
 *
 * Signing is ours, since a KMS key signs a digest and no JOSE library signs through KMS; checking a
 * signature, picking a key from a JWKS and thumbprints are jose's.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  calculateJwkThumbprint,
  compactVerify,
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  exportJWK,
  type CompactVerifyResult,
} from 'jose';
import { AppError } from '../runtime/errors';

/** A P-256 public key as a JWK (RFC 7517/7518), as published in the JWKS. */
export interface EcPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  use?: 'sig';
  alg?: 'ES256';
}

export interface Jwks {
  keys: EcPublicJwk[];
}

/** Anything that can sign with an ES256 key: returns the JOSE signature (raw r||s, 64 bytes). */
export interface JwsSigner {
  keyId(): Promise<string>;
  sign(data: Buffer): Promise<Buffer>;
}

export interface JwsHeader {
  alg: 'ES256';
  kid: string;
  typ?: string;
  cty?: string;
}

/**
 * The kinds of message the one signing key signs. Each carries its own `typ`, and every verifier names
 * the one it accepts (checked before any key is used), so a signature over one kind never passes for
 * another: a processor notice replayed as a status callback, a callback body offered as a manifest.
 */
export const JWS_TYPES = {
  manifest: 'dsr-manifest+jws',
  callback: 'dsr-callback+jws',
  processorNotice: 'dsr-processor-notice+jws',
  restrictionNotice: 'dsr-restriction-notice+jws',
  transferNotice: 'dsr-transfer+jws',
  certificate: 'erasure-certificate+jws',
} as const;
export type JwsType = (typeof JWS_TYPES)[keyof typeof JWS_TYPES];

/** What a signer puts in the protected header besides alg and kid: always a `typ`. */
export interface JwsSigningHeader {
  typ: JwsType;
  cty?: string;
}

/**
 * What a verifier accepts. `acceptUntyped` is for archive manifests only: they were signed without a
 * `typ` before kinds were told apart, and nothing signs without one any more.
 */
export interface JwsExpectation {
  typ: JwsType;
  acceptUntyped?: boolean;
}

/** A key to verify with: a JWKS (the key is picked by `kid`) or one public key (PEM or KeyObject). */
export type VerificationKeys = { jwks: Jwks } | { publicKey: KeyObject | string };

export type JwsVerification =
  { ok: true; kid: string; header: JwsHeader } | { ok: false; reason: string; kid?: string };

export class JwsFormatError extends AppError {
  override name = 'JwsFormatError';
  constructor(message: string) {
    super(message, 'JWS_INVALID');
  }
}

export class SigningError extends AppError {
  override name = 'SigningError';
  constructor(message: string) {
    super(message, 'SIGNING_FAILED');
  }
}

const ES256_SIGNATURE_BYTES = 64;
const COORDINATE_BYTES = 32;

export function base64url(data: Buffer | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64url');
}

/** RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, base64url. */
export function jwkThumbprint(jwk: Pick<EcPublicJwk, 'crv' | 'kty' | 'x' | 'y'>): Promise<string> {
  return calculateJwkThumbprint({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }, 'sha256');
}

/** The public JWK of a P-256 key (private or public KeyObject), with its thumbprint as `kid`. */
export async function publicJwk(key: KeyObject): Promise<EcPublicJwk> {
  const { kty, crv, x, y } = await exportJWK(key.type === 'private' ? createPublicKey(key) : key);
  if (kty !== 'EC' || crv !== 'P-256' || !x || !y) {
    throw new SigningError('Signing keys must be EC P-256 keys');
  }
  const base = { kty: 'EC' as const, crv: 'P-256' as const, x, y };
  return { ...base, kid: await jwkThumbprint(base), use: 'sig', alg: 'ES256' };
}

export function keyFromJwk(jwk: EcPublicJwk): KeyObject {
  return createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
}

/** DER ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }), as KMS and openssl produce, to raw r||s. */
export function derToJoseSignature(der: Uint8Array): Buffer {
  const buf = Buffer.from(der);
  let offset = 0;
  const byte = (): number => {
    const value = buf[offset];
    if (value === undefined) throw new SigningError('Truncated DER signature');
    offset += 1;
    return value;
  };
  const length = (): number => {
    const first = byte();
    if (first < 0x80) return first;
    if (first !== 0x81) throw new SigningError('Unsupported DER length');
    return byte();
  };
  const integer = (): Buffer => {
    if (byte() !== 0x02) throw new SigningError('Expected a DER INTEGER');
    const len = length();
    if (len < 1 || offset + len > buf.length) throw new SigningError('Bad DER INTEGER length');
    let value = buf.subarray(offset, offset + len);
    offset += len;
    while (value.length > 1 && value[0] === 0) value = value.subarray(1);
    if (value.length > COORDINATE_BYTES) throw new SigningError('DER INTEGER too large for P-256');
    return Buffer.concat([Buffer.alloc(COORDINATE_BYTES - value.length), value]);
  };
  if (byte() !== 0x30) throw new SigningError('Expected a DER SEQUENCE');
  const seqLength = length();
  if (offset + seqLength !== buf.length) throw new SigningError('DER SEQUENCE length mismatch');
  const r = integer();
  const s = integer();
  if (offset !== buf.length) throw new SigningError('Trailing bytes after DER signature');
  return Buffer.concat([r, s]);
}

/** Raw r||s to DER, for tools (openssl) that want DER. */
export function joseToDerSignature(raw: Uint8Array): Buffer {
  if (raw.length !== ES256_SIGNATURE_BYTES) throw new SigningError('An ES256 signature is 64 bytes');
  const integer = (part: Uint8Array): Buffer => {
    let value = Buffer.from(part);
    while (value.length > 1 && value[0] === 0 && (value[1] ?? 0) < 0x80) value = value.subarray(1);
    if ((value[0] ?? 0) >= 0x80) value = Buffer.concat([Buffer.from([0]), value]);
    return Buffer.concat([Buffer.from([0x02, value.length]), value]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function signingInput(encodedHeader: string, encodedPayload: string): Buffer {
  return Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii');
}

async function signParts(
  payload: Buffer,
  signer: JwsSigner,
  extraHeader: JwsSigningHeader,
): Promise<{ encodedHeader: string; encodedPayload: string; signature: string }> {
  const header: JwsHeader = { alg: 'ES256', kid: await signer.keyId(), ...extraHeader };
  const encodedHeader = base64url(JSON.stringify(header));
  const encodedPayload = base64url(payload);
  const signature = await signer.sign(signingInput(encodedHeader, encodedPayload));
  if (signature.length !== ES256_SIGNATURE_BYTES) {
    throw new SigningError('The signer did not return a 64-byte ES256 signature');
  }
  return { encodedHeader, encodedPayload, signature: base64url(signature) };
}

/** Compact JWS with a detached payload (RFC 7515 appendix F): `header..signature`. */
export async function signDetached(
  payload: Buffer,
  signer: JwsSigner,
  extraHeader: JwsSigningHeader,
): Promise<string> {
  const { encodedHeader, signature } = await signParts(payload, signer, extraHeader);
  return `${encodedHeader}..${signature}`;
}

/** Ordinary compact JWS: `header.payload.signature`. */
export async function signCompact(
  payload: Buffer,
  signer: JwsSigner,
  extraHeader: JwsSigningHeader,
): Promise<string> {
  const { encodedHeader, encodedPayload, signature } = await signParts(payload, signer, extraHeader);
  return `${encodedHeader}.${encodedPayload}.${signature}`;
}

interface ParsedJws {
  header: JwsHeader;
  encodedHeader: string;
  encodedPayload: string;
  encodedSignature: string;
}

/**
 * The three parts of a compact JWS, if its protected header is one we accept. Only ES256: never let
 * the token choose a weaker algorithm (or "none"). RFC 7515 4.1.11: extensions we do not understand
 * must be rejected; b64=false (RFC 7797) is not used.
 */
function parseCompact(jws: string, expected: JwsExpectation): ParsedJws {
  const parts = jws.trim().split('.');
  if (parts.length !== 3) throw new JwsFormatError('A compact JWS has three dot-separated parts');
  const [encodedHeader = '', encodedPayload = '', encodedSignature = ''] = parts;
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(parts.join('.'));
  } catch {
    throw new JwsFormatError('JWS header is not a JSON object');
  }
  if (header.alg !== 'ES256') throw new JwsFormatError('JWS alg must be ES256');
  if (typeof header.kid !== 'string' || header.kid === '') throw new JwsFormatError('JWS header has no kid');
  if (header.crit !== undefined) throw new JwsFormatError('JWS crit header parameters are not supported');
  if (header.b64 !== undefined && header.b64 !== true) {
    throw new JwsFormatError('JWS b64=false is not supported');
  }
  if (header.typ !== expected.typ && !(header.typ === undefined && expected.acceptUntyped)) {
    throw new JwsFormatError(`JWS typ must be ${expected.typ}`);
  }
  return { header: header as unknown as JwsHeader, encodedHeader, encodedPayload, encodedSignature };
}

const ES256_ONLY = { algorithms: ['ES256'] };

/** jose's check of a compact JWS; where several keys of the set share the kid, any of them may match. */
async function verifyWithKeys(token: string, keys: VerificationKeys): Promise<CompactVerifyResult> {
  if ('publicKey' in keys) {
    const key = typeof keys.publicKey === 'string' ? createPublicKey(keys.publicKey) : keys.publicKey;
    return compactVerify(token, key, ES256_ONLY);
  }
  try {
    return await compactVerify(token, createLocalJWKSet(keys.jwks), ES256_ONLY);
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    for await (const key of error) {
      try {
        return await compactVerify(token, key, ES256_ONLY);
      } catch (failure) {
        if (!(failure instanceof errors.JWSSignatureVerificationFailed)) throw failure;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

type CompactVerification =
  (JwsVerification & { ok: true; payload: Buffer }) | (JwsVerification & { ok: false });

/** A token that does not verify, or a key set without its key, is a failure with a reason, not an error. */
async function verifyParsed(
  { header, encodedHeader, encodedSignature }: ParsedJws,
  encodedPayload: string,
  keys: VerificationKeys,
): Promise<CompactVerification> {
  const { kid } = header;
  try {
    const { payload } = await verifyWithKeys(`${encodedHeader}.${encodedPayload}.${encodedSignature}`, keys);
    return { ok: true, kid, header, payload: Buffer.from(payload) };
  } catch (error) {
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return { ok: false, reason: 'The signature does not match', kid };
    }
    if (error instanceof errors.JWKSNoMatchingKey) {
      return { ok: false, reason: `No ES256 key with kid ${kid} in the key set`, kid };
    }
    if (error instanceof errors.JOSEError) return { ok: false, reason: error.message, kid };
    throw error;
  }
}

/** Verifies `header..signature` over the given payload bytes. Never throws on a bad token. */
export async function verifyDetached(
  jws: string,
  payload: Buffer,
  keys: VerificationKeys,
  expected: JwsExpectation,
): Promise<JwsVerification> {
  let parsed: ParsedJws;
  try {
    parsed = parseCompact(jws, expected);
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : 'Malformed JWS' };
  }
  if (parsed.encodedPayload !== '')
    return { ok: false, reason: 'Expected a detached payload (header..signature)' };
  const result = await verifyParsed(parsed, base64url(payload), keys);
  return result.ok ? { ok: true, kid: result.kid, header: result.header } : result;
}

/** Verifies a compact JWS with an attached payload and returns the payload bytes when valid. */
export async function verifyCompact(
  jws: string,
  keys: VerificationKeys,
  expected: JwsExpectation,
): Promise<CompactVerification> {
  let parsed: ParsedJws;
  try {
    parsed = parseCompact(jws, expected);
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : 'Malformed JWS' };
  }
  return verifyParsed(parsed, parsed.encodedPayload, keys);
}
