/**
 * The README's walk-through, as a new user follows it: `npm start` (the real command, on free ports and
 * a data directory of its own), then every bash block between the README's walk-through markers, in
 * order, in one bash session, as pasted into a terminal (with `set -e`, so a failing command anywhere
 * fails the block that holds it). Then SIGINT to npm's own pid must leave no process of the stack behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { groupAlive, npmStartEnv, until } from '../support/process-group';

const ROOT = resolve(__dirname, '..', '..');
const BEGIN = '<!-- readme-walkthrough:begin';
const END = '<!-- readme-walkthrough:end -->';
const BLOCK_MARK = '::walkthrough-block';

/** The bash blocks of the README's walk-through, in order. */
function walkthroughBlocks(readme: string): string[] {
  const from = readme.indexOf(BEGIN);
  const to = readme.indexOf(END);
  if (from === -1 || to === -1 || to < from) throw new Error('README.md has no walk-through markers');
  return [...readme.slice(from, to).matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

let work: string;
let npm: ChildProcess | undefined;
let bash: ChildProcess | undefined;
let npmOutput = '';

afterAll(async () => {
  // Whatever happened above, nothing this test started outlives it (both run in groups of their own).
  for (const child of [bash, npm]) {
    const pgid = child?.pid;
    if (pgid && groupAlive(pgid)) {
      process.kill(-pgid, 'SIGKILL');
      await until(() => !groupAlive(pgid), 5000);
    }
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the README walk-through runs by copy and paste against `npm start`, which then stops cleanly', async () => {
  const blocks = walkthroughBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  expect(blocks.length).toBeGreaterThanOrEqual(5);

  work = mkdtempSync(join(tmpdir(), 'dsr-readme-'));
  const env = npmStartEnv(join(work, 'local'));
  delete env.LOG_LEVEL;

  // Its own process group, so that the check below sees every process it started.
  npm = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  npm.stdout?.on('data', (chunk: Buffer) => (npmOutput += chunk.toString('utf8')));
  npm.stderr?.on('data', (chunk: Buffer) => (npmOutput += chunk.toString('utf8')));
  // Up to its last line of instructions, which follows the ports to export.
  const ready = await until(
    () => /^Ctrl-C stops everything/m.test(npmOutput) || npm?.exitCode !== null,
    60_000,
  );
  expect({ ready, exitCode: npm.exitCode }).toEqual({ ready: true, exitCode: null });
  expect(npmOutput).toMatch(/^ready: API /m);
  // What npm start tells a user to export in the other terminal: the ports it bound.
  const exported = /There, first: export (.*)$/m.exec(npmOutput)?.[1] ?? '';
  for (const [, name, value] of exported.matchAll(/(\w+)=(\S+)/g)) env[name!] = value;
  expect(env.PORT).toMatch(/^[1-9]\d*$/);

  const script = [
    'set -eo pipefail',
    ...blocks.flatMap((block, i) => [`echo "${BLOCK_MARK} ${i + 1}"`, block]),
    // Where the walk-through put its downloads ($OUT, from its `mktemp -d`), for the clean-up.
    `echo "${BLOCK_MARK} done"; echo "::walkthrough-out \${OUT:-}"`,
  ].join('\n');
  writeFileSync(join(work, 'walkthrough.sh'), script);
  const session = spawn('bash', [join(work, 'walkthrough.sh')], { cwd: ROOT, env, detached: true });
  bash = session;
  let out = '';
  session.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  session.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const code = await new Promise<number | null>((done) => session.on('close', done));
  const downloads = /^::walkthrough-out (\S+)$/m.exec(out)?.[1];
  if (downloads?.startsWith(tmpdir())) rmSync(downloads, { recursive: true, force: true });
  const reached = [...out.matchAll(new RegExp(`^${BLOCK_MARK} (\\S+)$`, 'gm'))].map((m) => m[1]).pop();
  // On failure this names the block that failed and shows what it printed.
  expect({ code, reached, output: code === 0 ? '' : out }).toEqual({ code: 0, reached: 'done', output: '' });

  // What a user reads: the export and the certificate verify, and the resumed erasure is reported.
  expect(out).toMatch(/^VALID: .*export\.zip is genuine and complete\.$/m);
  expect(out).toMatch(/^OK {2}all \d+ files listed in manifest\.json match it \(\d+ files in the archive/m);
  expect(out).toMatch(/^VALID: .*certificate\.jws is a genuine erasure certificate\.$/m);
  const [exportId, erasureId] = [...new Set(out.match(/req_[a-f0-9]{32}/g))];
  expect(exportId).toBeDefined();
  expect(erasureId).toBeDefined();
  expect(out).toMatch(new RegExp(`"requestId": "${erasureId}",\\s+"run": 1`));

  // npm start printed each status change of both requests: time, id, type and status, nothing else.
  const lines = (id: string) =>
    npmOutput
      .split('\n')
      .filter((line) => line.includes(id))
      .map((line) => line.replace(/^\d\d:\d\d:\d\d {2}/, ''));
  expect(lines(exportId!)).toEqual([
    `${exportId}  export  received`,
    `${exportId}  export  in_progress`,
    `${exportId}  export  completed`,
  ]);
  expect(lines(erasureId!).slice(0, 3)).toEqual([
    `${erasureId}  erasure  received`,
    `${erasureId}  erasure  in_progress`,
    `${erasureId}  erasure  partially_completed`,
  ]);

  // SIGINT to npm's own pid (not its group) stops the whole stack.
  const pgid = npm.pid!;
  process.kill(pgid, 'SIGINT');
  expect(await until(() => !groupAlive(pgid), 20_000)).toBe(true);
  expect(npmOutput).toContain('Stopping (SIGINT');
}, 120_000);
