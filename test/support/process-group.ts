/** Helpers for tests that run `npm start` (or its command) in a process group of its own. */
import { findFreePort } from '../../local/stores';

/** True while any process of the group (npm, node, the JVM, the S3 process) is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` every 100 ms until it holds (true) or `timeoutMs` passed (false). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** The environment `npm start` runs with on free ports, its data under `dataDir`. */
export async function npmStartEnv(dataDir: string): Promise<NodeJS.ProcessEnv> {
  return {
    ...process.env,
    PORT: String(await findFreePort()),
    DDB_PORT: String(await findFreePort()),
    S3_PORT: String(await findFreePort()),
    SFN_PORT: String(await findFreePort()),
    DSR_LOCAL_DIR: dataDir,
  };
}
