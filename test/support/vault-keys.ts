/**
 * The vault key as tests hold it: the local stand-in of the stack under test (VAULT_KEY_FILE, set by
 * the local stack), or one key per test process for tests that build their own vault over the stores.
 * A writer gets data keys only and a reader unwraps only, as their roles in AWS.
 */
import { randomBytes } from 'node:crypto';
import { LocalKeyStandIn } from '../../functions/lib/crypto/envelope';
import { VAULT_KEY_ENV, VaultReader, vaultKeysFromEnv } from '../../functions/lib/erasure/vault';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { orchestratorResources } from '../../config/data-map';

const processKey = randomBytes(32);

export function vaultWriterKeys() {
  return process.env[VAULT_KEY_ENV.keyFile]
    ? vaultKeysFromEnv('write')
    : new LocalKeyStandIn(processKey, new Set(['kms:GenerateDataKey']));
}

export function vaultReader(doc: DynamoDBDocumentClient): VaultReader {
  const keys = process.env[VAULT_KEY_ENV.keyFile]
    ? vaultKeysFromEnv('read')
    : new LocalKeyStandIn(processKey, new Set(['kms:Decrypt']));
  return new VaultReader(doc, { tableName: orchestratorResources.vaultTable.tableName, keys });
}

/** Stored vault records with their kept data opened (as `data`), as the vault reader sees them. */
export async function openVaultItems(
  doc: DynamoDBDocumentClient,
  items: readonly Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  const reader = vaultReader(doc);
  return Promise.all(
    items.map(async (item) =>
      item.kind === 'vault' ? { ...item, data: (await reader.openItem(item)).data } : item,
    ),
  );
}
