import path from 'node:path';
import { Readable, Writable, pipeline } from 'node:stream';
import fc from 'fast-check';
import {
  abortMultipartTarget,
  AwsChunkedDecoder,
  checkS3Request,
  decodedRequestPath,
  deleteObjectsKeys,
  isSafeObjectKey,
  plainUploadHeaders,
} from '../../local/stores';
import { HOSTILE_UPLOAD_NAMES } from '../../local/seed-data';

describe('isSafeObjectKey', () => {
  it.each([
    '..',
    '.',
    '../etc/passwd',
    'uploads/u1/f/../../etc/passwd',
    'uploads/u1/./f',
    'uploads/u1/f/..',
    'uploads/u1/f/.',
    'a/../../../../tmp/owned',
    'a\u0000b',
  ])('refuses %j', (key) => {
    expect(isSafeObjectKey(key)).toBe(false);
  });

  it.each([
    'uploads/u-alice/file-01/..\\..\\etc\\passwd',
    'uploads/u-alice/file-03/100%25 real%2Fpath.png',
    'uploads/u-alice/file-04/2026\u221510\u221531 beach.png',
    'uploads/u-alice/f/%2e%2e',
    'uploads/u-alice/f/%2E%2E/x',
    'uploads/u-alice/f/photo 😀 \u202Egpj.exe',
    'uploads/u-alice/f/...',
    'uploads/u-alice/f/.hidden',
    'uploads/u-alice/f/a..b',
    'uploads/u-alice/f/..a',
    'uploads/u-alice/f/\uFF0E\uFF0E/x',
    'access/dt=2026-10-31/part-00000.jsonl.gz',
  ])('allows the legal S3 key %j', (key) => {
    expect(isSafeObjectKey(key)).toBe(true);
  });

  it('allows every hostile upload name of the demo data', () => {
    for (const { name } of HOSTILE_UPLOAD_NAMES) {
      expect(isSafeObjectKey(`uploads/u-alice/file-01/${name}`)).toBe(true);
    }
  });

  it('accepts exactly the keys a path join keeps verbatim (what s3rver does with them)', () => {
    const segment = fc.oneof(
      fc.constantFrom('.', '..', '...', '.a', 'a.', '..\\..', '%2e%2e', '\u2215', '😀', ' ', 'etc', '\\'),
      fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !s.includes('/') && !s.includes('\0')),
    );
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), (segments) => {
        const key = segments.join('/');
        const joined = path.posix.join('/data/bucket', ...segments);
        expect(isSafeObjectKey(key)).toBe(joined === `/data/bucket/${key}`);
      }),
    );
  });
});

describe('decodedRequestPath', () => {
  it('decodes once, turning %2e%2e into a dot segment and %2F into a separator', () => {
    expect(decodedRequestPath('/bucket/a/%2e%2e/b')).toBe('/bucket/a/../b');
    expect(decodedRequestPath('/bucket/a/%2E%2e/b')).toBe('/bucket/a/../b');
    expect(decodedRequestPath('/bucket/a%2F..%2Fb')).toBe('/bucket/a/../b');
  });

  it('keeps double-encoded text literal', () => {
    expect(decodedRequestPath('/bucket/100%2525%20real%252Fpath.png')).toBe('/bucket/100%25 real%2Fpath.png');
    expect(decodedRequestPath('/bucket/x/%252e%252e/y')).toBe('/bucket/x/%2e%2e/y');
  });

  it('ignores the query, handles absolute-form targets and never resolves dot segments itself', () => {
    expect(decodedRequestPath('/bucket?prefix=../&list-type=2')).toBe('/bucket');
    expect(decodedRequestPath('http://127.0.0.1:4568/bucket/a/../b?x=1')).toBe('/bucket/a/../b');
  });

  it('rejects malformed encodings and relative targets', () => {
    expect(decodedRequestPath('/bucket/%zz/../x')).toBeUndefined();
    expect(decodedRequestPath('bucket/key')).toBeUndefined();
  });
});

describe('checkS3Request', () => {
  const auth = { authorization: 'AWS4-HMAC-SHA256 Credential=S3RVER/20261101/us-east-1/s3/aws4_request' };
  const get = (url: string) => checkS3Request({ method: 'GET', url, headers: auth });

  it('refuses dot segments in the path, encoded or not, with InvalidObjectName', () => {
    for (const url of [
      '/platform-media/uploads/u1/f/../../etc/passwd',
      '/platform-media/uploads/u1/f/%2e%2e/%2E%2E/etc/passwd',
      '/platform-media/uploads%2Fu1%2F..%2F..%2Fx',
      '/platform-media/./x',
    ]) {
      expect(get(url)).toEqual(
        expect.objectContaining({ ok: false, status: 400, code: 'InvalidObjectName' }),
      );
    }
  });

  it('refuses malformed percent-encoding', () => {
    expect(get('/platform-media/%E0%A4%A')).toEqual(
      expect.objectContaining({ ok: false, code: 'InvalidURI' }),
    );
  });

  it('passes legal keys and listings through', () => {
    expect(get('/platform-media/uploads/u-alice/file-01/..%5C..%5Cetc%5Cpasswd')).toEqual({
      ok: true,
      inspectDeleteBody: false,
    });
    expect(get('/platform-media?list-type=2&prefix=uploads%2Fu-alice%2F')).toEqual({
      ok: true,
      inspectDeleteBody: false,
    });
  });

  it('checks the copy source of a CopyObject', () => {
    const put = (source: string) =>
      checkS3Request({ method: 'PUT', url: '/b/dest', headers: { ...auth, 'x-amz-copy-source': source } });
    expect(put('/b/uploads/u1/%2e%2e/%2e%2e/etc/passwd')).toEqual(expect.objectContaining({ ok: false }));
    expect(put('b/a/../x?versionId=3')).toEqual(expect.objectContaining({ ok: false }));
    expect(put('b/uploads/u1/f/..%5Cx.png?versionId=3')).toEqual({ ok: true, inspectDeleteBody: false });
  });

  it('asks for the body of DeleteObjects and refuses form uploads', () => {
    expect(checkS3Request({ method: 'POST', url: '/b?delete', headers: auth })).toEqual({
      ok: true,
      inspectDeleteBody: true,
    });
    expect(checkS3Request({ method: 'POST', url: '/b', headers: auth })).toEqual(
      expect.objectContaining({ ok: false, status: 501 }),
    );
    expect(checkS3Request({ method: 'POST', url: '/b/key?uploads', headers: auth })).toEqual({
      ok: true,
      inspectDeleteBody: false,
    });
  });

  it('refuses anonymous requests but lets presigned URLs and CORS preflights through', () => {
    expect(checkS3Request({ method: 'GET', url: '/b/key', headers: {} })).toEqual(
      expect.objectContaining({ ok: false, status: 403, code: 'AccessDenied' }),
    );
    expect(
      checkS3Request({ method: 'GET', url: '/b/key?X-Amz-Credential=x&X-Amz-Signature=abc', headers: {} }),
    ).toEqual({ ok: true, inspectDeleteBody: false });
    expect(checkS3Request({ method: 'OPTIONS', url: '/b/key', headers: {} })).toEqual({
      ok: true,
      inspectDeleteBody: false,
    });
    // The key check comes first: an unsafe key is refused as such, signed or not.
    expect(checkS3Request({ method: 'PUT', url: '/b/%2e%2e/x', headers: {} })).toEqual(
      expect.objectContaining({ code: 'InvalidObjectName' }),
    );
  });
});

describe('deleteObjectsKeys', () => {
  it('reads every key with XML entities decoded', () => {
    const xml =
      '<?xml version="1.0"?><Delete><Object><Key>a/&#46;&#46;/b</Key></Object>' +
      '<Object><Key>c &amp; d&#x2215;e</Key><VersionId>1</VersionId></Object><Quiet>true</Quiet></Delete>';
    const keys = deleteObjectsKeys(xml);
    expect(keys).toEqual(['a/../b', 'c & d\u2215e']);
    expect(keys.map(isSafeObjectKey)).toEqual([false, true]);
  });
});

function awsChunked(payload: Buffer, chunkSize: number, signed: boolean, trailer: boolean): Buffer {
  const parts: Buffer[] = [];
  const ext = signed ? `;chunk-signature=${'ab'.repeat(32)}` : '';
  for (let i = 0; i < payload.length; i += chunkSize) {
    const chunk = payload.subarray(i, i + chunkSize);
    parts.push(Buffer.from(`${chunk.length.toString(16)}${ext}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0${ext}\r\n`));
  if (trailer) parts.push(Buffer.from('x-amz-checksum-crc32:gtnkmQ==\r\n'));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

async function decode(pieces: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await new Promise<void>((resolve, reject) =>
    pipeline(
      Readable.from(pieces),
      new AwsChunkedDecoder(),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          out.push(chunk);
          callback();
        },
      }),
      (error) => (error ? reject(error) : resolve()),
    ),
  );
  return Buffer.concat(out);
}

describe('AwsChunkedDecoder', () => {
  it('decodes unsigned bodies with a trailing checksum, fed one byte at a time', async () => {
    const payload = Buffer.from('hello stream, with a trailer\r\n0\r\n and CRLFs inside the data');
    const encoded = awsChunked(payload, 7, false, true);
    const bytes = [...encoded].map((b) => Buffer.from([b]));
    expect((await decode(bytes)).equals(payload)).toBe(true);
  });

  it('decodes signed bodies whatever the chunking and the read boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 500 }),
        fc.boolean(),
        fc.boolean(),
        async (data, chunkSize, readSize, signed, trailer) => {
          const payload = Buffer.from(data);
          const encoded = awsChunked(payload, chunkSize, signed, trailer);
          const pieces: Buffer[] = [];
          for (let i = 0; i < encoded.length; i += readSize) pieces.push(encoded.subarray(i, i + readSize));
          expect((await decode(pieces)).equals(payload)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('fails on malformed or truncated bodies', async () => {
    await expect(decode([Buffer.from('zz\r\nhello\r\n0\r\n\r\n')])).rejects.toThrow(/chunk size/);
    await expect(decode([Buffer.from('5\r\nhelloXX0\r\n\r\n')])).rejects.toThrow(/CRLF/);
    await expect(decode([Buffer.from('a\r\nhello')])).rejects.toThrow(/Incomplete/);
  });
});

describe('plainUploadHeaders', () => {
  it('leaves plain bodies alone', () => {
    expect(
      plainUploadHeaders({ 'content-length': '5', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
    ).toBeUndefined();
  });

  it('turns an aws-chunked upload into a plain one of the decoded length', () => {
    const headers = plainUploadHeaders({
      'content-encoding': 'gzip,aws-chunked',
      'content-length': '999',
      'transfer-encoding': 'chunked',
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-decoded-content-length': '12',
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'x-amz-meta-user-id': 'u-1',
    });
    expect(headers).toEqual({
      'content-encoding': 'gzip',
      'content-length': '12',
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'x-amz-meta-user-id': 'u-1',
    });
  });

  it('drops the length when the decoded length is unknown', () => {
    const headers = plainUploadHeaders({
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    });
    expect(headers).toEqual({ 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
  });
});

describe('abortMultipartTarget', () => {
  it('names the bucket and upload of an AbortMultipartUpload request', () => {
    expect(
      abortMultipartTarget({
        method: 'DELETE',
        url: '/exports/a/b.zip?uploadId=abc123&x-id=AbortMultipartUpload',
      }),
    ).toEqual({
      bucket: 'exports',
      uploadId: 'abc123',
    });
  });

  it.each([
    ['GET', '/exports/a/b.zip?uploadId=abc123'],
    ['DELETE', '/exports/a/b.zip'],
    ['DELETE', '/exports?uploadId=abc123'],
    ['DELETE', '/exports/%E0%A4%A?uploadId=abc123'],
  ])('leaves %s %s alone', (method, url) => {
    expect(abortMultipartTarget({ method, url })).toBeUndefined();
  });
});
