/**
 * The environment the local stack gives its handlers (local/stack.ts), for a script that runs a handler's
 * core once against the running stack (`npm start`: its .local/ data directory and ports).
 */
import { join } from 'node:path';
import { defaultResourceEnv } from '../config/data-map';
import { intEnv } from '../functions/lib/runtime/config';
import { keyPaths } from '../local/stack';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/stores';

/** Sets the running local stack's environment on this process; answers its data directory. */
export function useRunningLocalStack(): string {
  const dataDir = process.env.DSR_LOCAL_DIR ?? join(__dirname, '..', '.local');
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${intEnv('DDB_PORT', 8000)}`,
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${intEnv('S3_PORT', 4569)}`,
    AWS_ENDPOINT_URL_SFN: `http://127.0.0.1:${intEnv('SFN_PORT', 8083)}`,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    ...defaultResourceEnv(),
    SUBJECT_HASH_KEY_FILE: keyPaths(dataDir).subjectHash,
    VAULT_KEY_FILE: keyPaths(dataDir).vault,
    DSR_LOCAL_DIR: dataDir,
  });
  return dataDir;
}
