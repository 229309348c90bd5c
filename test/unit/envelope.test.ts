import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  KmsDataKeys,
  LocalKeyStandIn,
  open,
  seal,
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
