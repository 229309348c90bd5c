import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  KmsDataKeys,
  LocalKeyStandIn,
  open,
  seal,
  SharedKeySealer,
  type DataKeyIssuer,
  type EncryptionContext,
} from '../../functions/lib/crypto/envelope';

const key = Buffer.alloc(32, 1);
const context: EncryptionContext = {
  'dsr:purpose': 'retention-vault',
  'dsr:store': 'chat',
  'dsr:entry': 'e1',
};
const both = new LocalKeyStandIn(key, new Set(['kms:GenerateDataKey', 'kms:Decrypt']));

describe('envelope encryption', () => {
  it('opens what it sealed, under the same context only', async () => {
    const sealed = await seal(both, context, Buffer.from('kept'));
    expect(Buffer.from(sealed.ciphertext).toString()).not.toContain('kept');
    expect((await open(both, context, sealed)).toString()).toBe('kept');
    await expect(open(both, { ...context, 'dsr:entry': 'e2' }, sealed)).rejects.toMatchObject({
      name: 'InvalidCiphertextException',
    });
  });

  it('refuses a payload altered after sealing', async () => {
    const sealed = await seal(both, context, Buffer.from('kept'));
    const ciphertext = Buffer.from(sealed.ciphertext);
    ciphertext[0] = (ciphertext[0] ?? 0) ^ 1;
    await expect(open(both, context, { ...sealed, ciphertext })).rejects.toMatchObject({
      name: 'EnvelopeError',
    });
  });

  it('the local stand-in honours its grants as IAM does', async () => {
    const writer = new LocalKeyStandIn(key, new Set(['kms:GenerateDataKey']));
    const reader = new LocalKeyStandIn(key, new Set(['kms:Decrypt']));
    const sealed = await seal(writer, context, Buffer.from('kept'));
    await expect(open(writer, context, sealed)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(seal(reader, context, Buffer.from('x'))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    expect((await open(reader, context, sealed)).toString()).toBe('kept');
    // Another key opens nothing.
    const other = new LocalKeyStandIn(Buffer.alloc(32, 2), new Set(['kms:Decrypt']));
    await expect(open(other, context, sealed)).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
  });

  it('asks KMS for an AES-256 data key and to decrypt it, each with the context and the key named', async () => {
    const sent: unknown[] = [];
    const plaintext = Buffer.alloc(32, 9);
    const kms = {
      send: async (command: unknown) => {
        sent.push(command);
        if (command instanceof GenerateDataKeyCommand)
          return { Plaintext: new Uint8Array(plaintext), CiphertextBlob: Buffer.from('wrapped') };
        if (command instanceof DecryptCommand) return { Plaintext: new Uint8Array(plaintext) };
        throw new Error('unexpected');
      },
    } as unknown as KMSClient;
    const keys = new KmsDataKeys(kms, 'arn:key');
    const sealed = await seal(keys, context, Buffer.from('kept'));
    expect((await open(keys, context, sealed)).toString()).toBe('kept');
    expect((sent[0] as GenerateDataKeyCommand).input).toEqual({
      KeyId: 'arn:key',
      KeySpec: 'AES_256',
      EncryptionContext: context,
    });
    expect((sent[1] as DecryptCommand).input).toEqual({
      KeyId: 'arn:key',
      CiphertextBlob: Buffer.from('wrapped'),
      EncryptionContext: context,
    });
  });
});

describe('shared data keys (SharedKeySealer)', () => {
  const keyContext = (keyId: string): EncryptionContext => ({ ...context, 'dsr:entry': `key:${keyId}` });
  const entry = (n: number): EncryptionContext => ({ ...context, 'dsr:entry': `e${n}` });
  /** The stand-in, counting the data keys it issues (and refusing while `refuse` is set). */
  function counting() {
    const issued: EncryptionContext[] = [];
    const plaintexts: Buffer[] = [];
    let refuse = false;
    const issuer: DataKeyIssuer = {
      generateDataKey: async (ctx) => {
        await new Promise((r) => setImmediate(r));
        if (refuse) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
        issued.push(ctx);
        const key = await both.generateDataKey(ctx);
        plaintexts.push(key.plaintext);
        return key;
      },
    };
    return { issuer, issued, plaintexts, refuse: (on: boolean) => (refuse = on) };
  }

  it('seals many payloads under one data key per maxUses, each opening under its own context only', async () => {
    const keys = counting();
    const sealer = new SharedKeySealer(keys.issuer, { maxUses: 3, maxAgeMs: 60_000 });
    // Seven at once: waiting seals share the key being issued, and a spent key is replaced, not reused.
    const sealed = await Promise.all(
      Array.from({ length: 7 }, (_, n) =>
        sealer.seal('chat', keyContext, entry(n), Buffer.from(`kept ${n}`)),
      ),
    );
    expect(keys.issued).toHaveLength(3);
    const uses = new Map<string, number>();
    for (const s of sealed) uses.set(s.keyId!, (uses.get(s.keyId!) ?? 0) + 1);
    expect([...uses.values()].sort()).toEqual([1, 3, 3]);
    for (const [n, s] of sealed.entries()) {
      expect(s).toMatchObject({ v: 2, alg: 'A256GCM' });
      expect((await open(both, entry(n), s, keyContext)).toString()).toBe(`kept ${n}`);
      // Under another entry's context it does not open, though the data key does.
      await expect(open(both, entry(n + 1), s, keyContext)).rejects.toMatchObject({ name: 'EnvelopeError' });
    }
    // The spent keys were zeroed; the one in use was not.
    await new Promise((r) => setImmediate(r));
    expect(keys.plaintexts.map((k) => k.every((b) => b === 0))).toEqual([true, true, false]);
  });

  it('a key past its age is replaced; a refused key is asked for again', async () => {
    let now = 0;
    const keys = counting();
    const sealer = new SharedKeySealer(keys.issuer, { maxUses: 100, maxAgeMs: 1000 }, () => now);
    const first = await sealer.seal('chat', keyContext, entry(1), Buffer.from('a'));
    now = 999;
    expect((await sealer.seal('chat', keyContext, entry(2), Buffer.from('b'))).keyId).toBe(first.keyId);
    now = 1000;
    keys.refuse(true);
    await expect(sealer.seal('chat', keyContext, entry(3), Buffer.from('c'))).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    keys.refuse(false);
    const third = await sealer.seal('chat', keyContext, entry(3), Buffer.from('c'));
    expect(third.keyId).not.toBe(first.keyId);
    expect(keys.issued).toHaveLength(2);
    // Groups do not share keys.
    expect((await sealer.seal('payments', keyContext, entry(4), Buffer.from('d'))).keyId).not.toBe(
      third.keyId,
    );
  });

  it('still opens version 1 payloads (a data key each, issued under the payload context)', async () => {
    const sealed = await seal(both, context, Buffer.from('kept'));
    expect(sealed.v).toBe(1);
    expect(
      (await open(both, context, sealed, () => ({ ...context, 'dsr:entry': 'unused' }))).toString(),
    ).toBe('kept');
  });
});
