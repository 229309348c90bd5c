/**
 * `npm run vault-read -- <store> <category> <recordId>`: prints one kept record of the running local
 * stack's retention vault, opened (disclosure to an authority). In AWS the same read needs the vault
 * reader role (infra/constructs/vault-reader.ts): no function may open kept data.
 */
import { ENV } from '../config/data-map';
import { useRunningLocalStack } from './local-stack-env';

async function main(): Promise<void> {
  const [store, category, recordId] = process.argv.slice(2);
  if (!store || !category || !recordId) {
    console.error('Usage: npm run vault-read -- <store> <category> <recordId>');
    process.exit(2);
  }
  useRunningLocalStack();
  const { documentClient } = await import('../functions/lib/aws/clients');
  const { VaultReader, vaultKeysFromEnv } = await import('../functions/lib/erasure/vault');
  const reader = new VaultReader(documentClient(), {
    tableName: process.env[ENV.vaultTable] ?? '',
    keys: vaultKeysFromEnv('read'),
  });
  console.log(JSON.stringify(await reader.read(store, category, recordId), null, 2));
}

main().catch((error: unknown) => {
  console.error(`Vault read failed: ${error instanceof Error ? error.name : 'Error'}`);
  process.exit(1);
});
