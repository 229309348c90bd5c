/**
 * `npm run reset`: removes the local stack's data directory (DynamoDB Local's database, s3rver's objects
 * and everything else kept there), so the next `npm start` begins from a freshly seeded state.
 * Stop the local stack first: DynamoDB Local holds its database file open.
 */
import { rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_DATA_DIR } from './stores';

export interface ResetResult {
  path: string;
  removed: boolean;
}

/**
 * Deletes `dir` and everything in it. Refuses paths that cannot be a data directory. Synchronous on
 * purpose: it runs once before anything starts, and nothing may start while it is half done.
 */
export function resetLocalData(dir: string = LOCAL_DATA_DIR): ResetResult {
  const target = path.resolve(dir);
  const forbidden = new Set(
    [path.parse(target).root, os.homedir(), process.cwd()].map((p) => path.resolve(p)),
  );
  if (forbidden.has(target) || process.cwd().startsWith(target + path.sep)) {
    throw new Error(`Refusing to delete ${target}: not a local data directory`);
  }
  try {
    const info = statSync(target);
    if (!info.isDirectory()) throw new Error(`Refusing to delete ${target}: not a directory`);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { path: target, removed: false };
    throw error;
  }
  rmSync(target, { recursive: true, force: true });
  return { path: target, removed: true };
}

function main(): void {
  // Same default as `npm start`: DSR_LOCAL_DIR, else .local at the repository root.
  const dir = process.argv[2] ?? process.env.DSR_LOCAL_DIR ?? path.join(__dirname, '..', LOCAL_DATA_DIR);
  const result = resetLocalData(dir);
  console.log(
    result.removed
      ? `Removed local data in ${result.path} (DynamoDB tables, S3 objects, keys). The next start seeds afresh.`
      : `Nothing to remove: ${result.path} does not exist.`,
  );
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
