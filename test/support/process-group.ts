/** Helpers for tests that run `npm start` (or its command) in a process group of its own. */
import { join } from 'node:path';
import { loadTokenKey, mintToken } from '../../local/auth';

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
export function npmStartEnv(dataDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // Any free ports, bound as each server starts: npm start prints the ones it got.
    PORT: '0',
    DDB_PORT: '0',
    S3_PORT: '0',
    SFN_PORT: '0',
    DSR_LOCAL_DIR: dataDir,
  };
}

/**
 * Calls the API of an `npm start` stack whose data is under `dataDir` as a support client (the token
 * minted with the stack's own key), taking the API address each call: it changes with every restart.
 */
export function supportCaller(dataDir: string) {
  const key = loadTokenKey(join(dataDir, 'keys', 'api-token.key'));
  return async (api: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${mintToken(key, 'support')}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}
