/**
 * The local stack survives `kill -9`: `npm start`'s process (on free ports, a data directory of its own)
 * is killed with its whole process group (the API, the workflows, DynamoDB Local's JVM, the S3 process)
 * while exports and erasures run, then started again on the same data. The watchdog re-drives what was
 * lost, and every request reaches the status and counts an undisturbed run of the same requests reaches
 * (run first, on a stack of its own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/stores';
import { groupAlive, npmStartEnv, supportCaller, until } from '../support/process-group';
import { startTestStack } from '../support/local-stack';
import { ERASURE_WAVE, EXPORT_WAVE, outcomeOf, submit, TERMINAL } from '../support/campaign-requests';

const ROOT = resolve(__dirname, '..', '..');
/**
 * Two waves, each killed mid-way: exports, then erasures. An export running beside an erasure of someone
 * in the same chat rooms may see their data before or after it goes, so the waves do not overlap (in
 * the undisturbed run either) and the outcome of each request is one thing.
 */
const WAVES = [EXPORT_WAVE, ERASURE_WAVE];

let work: string;
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) {
    const pgid = child.pid;
    if (pgid && groupAlive(pgid)) {
      process.kill(-pgid, 'SIGKILL');
      await until(() => !groupAlive(pgid), 5000);
    }
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `npm start`'s command, in a process group of its own; resolves with its API once it is ready. */
async function startStack(
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; api: string; s3Endpoint: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const ready = await until(() => /^ready: API /m.test(output) || child.exitCode !== null, 60_000);
  if (!ready || child.exitCode !== null) throw new Error(`The stack did not start:\n${output}`);
  const api = /^ready: API (\S+)/m.exec(output)?.[1] ?? '';
  // The ports were 0: each server's real address is in the ready line.
  const s3Endpoint = /^ready: API .*?, S3 (\S+),/m.exec(output)?.[1] ?? '';
  return { child, api, s3Endpoint, output: () => output };
}

test('kill -9 of the whole stack mid-request, then a restart: every request ends as undisturbed', async () => {
  // The undisturbed run of the same requests.
  const control = await startTestStack();
  const expected: unknown[] = [];
  try {
    for (const wave of WAVES) {
      const ids: string[] = [];
      for (const body of wave)
        ids.push(await submit((path, payload) => control.call('POST', path, { body: payload }), body));
      for (const id of ids) expected.push(outcomeOf(await control.waitForStatus(id, TERMINAL, 60_000)));
    }
  } finally {
    await control.stop();
  }

  work = mkdtempSync(join(tmpdir(), 'dsr-crash-'));
  const env: NodeJS.ProcessEnv = {
    ...npmStartEnv(join(work, 'local')),
    WATCHDOG_INTERVAL_MS: '1000',
    LOG_LEVEL: 'silent',
  };
  let stack = await startStack(env);
  const call = supportCaller(join(work, 'local'));
  const statusesOf = (api: string, ids: string[]) =>
    Promise.all(ids.map(async (id) => String((await call(api, 'GET', `/v1/requests/${id}`)).body.status)));
  const after: unknown[] = [];
  const unfinishedAtKill: number[] = [];
  for (const wave of WAVES) {
    const ids: string[] = [];
    const api = stack.api;
    for (const body of wave)
      ids.push(await submit((path, payload) => call(api, 'POST', path, payload), body));
    // Killed while work is under way: at least two requests started.
    await until(
      async () => (await statusesOf(api, ids)).filter((s) => s === 'in_progress').length >= 2,
      20_000,
    );
    const before = await statusesOf(api, ids);
    process.kill(-stack.child.pid!, 'SIGKILL');
    expect(await until(() => !groupAlive(stack.child.pid!), 10_000)).toBe(true);
    unfinishedAtKill.push(before.filter((s) => !TERMINAL.includes(s)).length);

    stack = await startStack(env);
    const restarted = stack.api;
    const settled = await until(
      async () => (await statusesOf(restarted, ids)).every((s) => TERMINAL.includes(s)),
      60_000,
    );
    expect(settled).toBe(true);
    for (const id of ids) after.push(outcomeOf((await call(restarted, 'GET', `/v1/requests/${id}`)).body));
  }
  expect(after).toEqual(expected);
  // Each kill left requests unfinished (else it proved nothing).
  expect(unfinishedAtKill.every((n) => n > 0)).toBe(true);

  // Nothing the requests staged outlives them (the watchdog removes what a crash left behind).
  const s3 = new S3Client({
    endpoint: stack.s3Endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
  });
  const staged = async () =>
    (await s3.send(new ListObjectsV2Command({ Bucket: 'dsr-staging', Prefix: 'requests/' }))).KeyCount ?? 0;
  await until(async () => (await staged()) === 0, 20_000);
  expect(await staged()).toBe(0);
  s3.destroy();
  process.kill(-stack.child.pid!, 'SIGKILL');
}, 240_000);
