/**
 * `npm run chaos`: the fault-injection campaign (docs/chaos.md).
 *
 * 1. A clean run of the campaign's subjects (exports, then erasures with their log part).
 * 2. Fault runs of the same subjects, each on a fresh stack with its own seed: faults at every Task of
 *    the export, erasure and log-erasure workflows (before or after the handler's effects), inside
 *    connectors between batches, and from the proxies in front of DynamoDB Local and the local S3
 *    (throttling, 500s, answers held past the client timeout, reset connections). Each is compared with
 *    the clean run: the same outcome, archive contents, certificate contents and stores afterwards, no
 *    partial archive ever published, every request terminal.
 * 3. Crash rounds: `npm start`'s process group killed with SIGKILL mid-request and started again on the
 *    same data; every request must end terminal with the clean run's outcome.
 *
 * Options: --runs N (fault runs, default 12), --crashes N (kills, default 20; 0 skips), --seed S,
 * --parallel N (fault runs at once, default 1). Exit status 1 when any figure misses its target.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChaosOptions } from '../local/faults';
import { groupAlive, npmStartEnv, supportCaller, until } from '../test/support/process-group';
import {
  ERASURE_WAVE,
  EXPORT_WAVE,
  labelOf,
  outcomeOf,
  submit,
  TERMINAL,
  waitsForLogJob,
  type CampaignRequest,
} from '../test/support/campaign-requests';
import { differences, runInChild, type RunResult, type RunSpec } from './chaos-run';

const ROOT = resolve(__dirname, '..');

/** The campaign's fault rates: dense enough that most tasks meet a fault, within every retry budget. */
export function campaignChaos(seed: number): ChaosOptions {
  return {
    seed,
    taskRate: 0.3,
    batchRate: 0.3,
    proxy: { throttle: 0.04, error500: 0.04, timeout: 0.004, reset: 0.04 },
    requestTimeoutMs: 3000,
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(value) ? value : fallback;
}

interface Figures {
  runs: number;
  faults: Record<string, number>;
  requests: number;
  nonTerminal: number;
  partial: number;
  different: number;
  notes: string[];
}

async function faultRuns(clean: RunResult, spec: RunSpec, runs: number, seed: number, parallel: number) {
  const figures: Figures = {
    runs: 0,
    faults: {},
    requests: 0,
    nonTerminal: 0,
    partial: 0,
    different: 0,
    notes: [],
  };
  let next = 0;
  const worker = async () => {
    while (next < runs) {
      const n = next++;
      const runSeed = seed + n;
      let result: RunResult;
      try {
        result = await runInChild({ ...spec, chaos: campaignChaos(runSeed) }, { nice: true });
      } catch (error) {
        figures.notes.push(`run seed ${runSeed}: did not finish: ${String(error).slice(0, 1500)}`);
        figures.different += spec.waves.flat().length;
        continue;
      }
      figures.runs += 1;
      for (const [kind, count] of Object.entries(result.faults))
        figures.faults[kind] = (figures.faults[kind] ?? 0) + (count ?? 0);
      figures.requests += result.requests.length;
      figures.nonTerminal += result.requests.filter((r) => !TERMINAL.includes(r.status)).length;
      figures.partial += result.partialArchives.length;
      const diffs = differences(clean, result);
      const labels = new Set(diffs.map((d) => d.split(':').slice(0, 2).join(':')));
      figures.different += labels.size;
      for (const d of diffs) figures.notes.push(`run seed ${runSeed}: ${d}`);
      const total = Object.values(result.faults).reduce((a, b) => a + (b ?? 0), 0);
      console.log(
        `  run seed ${runSeed}: ${total} faults, ${result.requests.length} requests, ${diffs.length} differences, ${(result.ms / 1000).toFixed(0)} s; handler errors ${JSON.stringify(result.taskErrors)}`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return figures;
}

// ---------------------------------------------------------------------------------------------
// Crash rounds

interface Started {
  child: ChildProcess;
  api: string;
}

async function startNpmStack(dataDir: string): Promise<Started> {
  const child = spawn('nice', ['-n', '10', process.execPath, '--import', 'tsx', 'local/start.ts'], {
    cwd: ROOT,
    env: { ...npmStartEnv(dataDir), WATCHDOG_INTERVAL_MS: '1000', LOG_LEVEL: 'silent' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const ready = await until(() => /^ready: API /m.test(output) || child.exitCode !== null, 180_000);
  if (!ready || child.exitCode !== null) {
    if (child.pid && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    throw new Error(`The stack did not start:\n${output.slice(-2000)}`);
  }
  return { child, api: /^ready: API (\S+)/m.exec(output)?.[1] ?? '' };
}

async function kill(stack: Started): Promise<void> {
  const pgid = stack.child.pid!;
  process.kill(-pgid, 'SIGKILL');
  await until(() => !groupAlive(pgid), 20_000);
}

async function crashRounds(clean: RunResult, kills: number, seed: number) {
  const expected = new Map(clean.requests.map((r) => [r.label, r]));
  const figures = { kills: 0, requests: 0, nonTerminal: 0, different: 0, notes: [] as string[] };
  let random = seed;
  const rand = () => {
    random = (random * 1103515245 + 12345) % 2147483648;
    return random / 2147483648;
  };
  while (figures.kills < kills) {
    const dir = mkdtempSync(join(tmpdir(), 'dsr-chaos-crash-'));
    let stack = await startNpmStack(dir);
    const call = supportCaller(dir);
    try {
      // Export waves first (they change nothing, so each is the clean run's), then the erasures.
      const waves: { wave: readonly CampaignRequest[]; killsInWave: number }[] = [
        ...Array.from({ length: 5 }, () => ({ wave: EXPORT_WAVE, killsInWave: 1 })),
        { wave: ERASURE_WAVE, killsInWave: 2 },
      ];
      for (const { wave, killsInWave } of waves) {
        if (figures.kills >= kills) break;
        const ids: [string, string][] = [];
        for (const r of wave) {
          const api = stack.api;
          ids.push([await submit((path, body) => call(api, 'POST', path, body), r), labelOf(r)]);
        }
        const statuses = async (api: string) =>
          Promise.all(
            ids.map(async ([id]) => String((await call(api, 'GET', `/v1/requests/${id}`)).body.status)),
          );
        for (let k = 0; k < killsInWave && figures.kills < kills; k++) {
          // Mid-request: once work is under way, after a seeded pause of up to 1.5 s.
          const api = stack.api;
          await until(async () => (await statuses(api)).some((s) => s === 'in_progress'), 60_000);
          await new Promise((r) => setTimeout(r, Math.floor(rand() * 1500)));
          const before = await statuses(api);
          await kill(stack);
          figures.kills += 1;
          console.log(
            `  kill ${figures.kills}: ${before.filter((s) => !TERMINAL.includes(s)).length} of ${ids.length} unfinished`,
          );
          stack = await startNpmStack(dir);
        }
        const api = stack.api;
        const settledAll = async () => (await statuses(api)).every((s) => TERMINAL.includes(s));
        await until(settledAll, 240_000);
        // The erasures' log part: the log-erasure job, as its schedule would start it.
        if (wave === ERASURE_WAVE) {
          for (let job = 0; job < 3; job++) {
            const views = await Promise.all(
              ids.map(async ([id]) => (await call(api, 'GET', `/v1/requests/${id}`)).body),
            );
            if (!views.some(waitsForLogJob)) break;
            await call(api, 'POST', '/v1/log-erasure-jobs');
            await until(async () => {
              const now = await Promise.all(
                ids.map(async ([id]) => (await call(api, 'GET', `/v1/requests/${id}`)).body),
              );
              return now.every((v) => TERMINAL.includes(String(v.status)) && !waitsForLogJob(v));
            }, 120_000);
          }
        }
        for (const [id, label] of ids) {
          const body = (await call(api, 'GET', `/v1/requests/${id}`)).body;
          figures.requests += 1;
          if (!TERMINAL.includes(String(body.status))) {
            figures.nonTerminal += 1;
            figures.notes.push(`crash: ${label} stayed ${String(body.status)}`);
            continue;
          }
          const want = expected.get(label);
          const got = outcomeOf(body);
          if (JSON.stringify(got) !== JSON.stringify(want?.outcome)) {
            figures.different += 1;
            figures.notes.push(
              `crash: ${label}: clean ${JSON.stringify(want?.outcome)} / after kills ${JSON.stringify(got)}`,
            );
          }
        }
      }
    } finally {
      await kill(stack).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return figures;
}

async function main(): Promise<void> {
  const runs = arg('runs', 12);
  const crashes = arg('crashes', 20);
  const seed = arg('seed', 1);
  const parallel = arg('parallel', 1);
  const spec: RunSpec = { waves: [EXPORT_WAVE, ERASURE_WAVE] };
  const started = Date.now();
  console.log(`Clean run of ${spec.waves.flat().length} requests...`);
  const clean = await runInChild(spec, { nice: true });
  const notTerminal = clean.requests.filter((r) => !TERMINAL.includes(r.status));
  if (notTerminal.length > 0 || clean.partialArchives.length > 0)
    throw new Error(
      `The clean run itself did not settle: ${JSON.stringify({
        statuses: clean.requests.map((r) => `${r.label} ${r.status}`),
        partialArchives: clean.partialArchives.length,
      })}`,
    );

  console.log(`Fault runs: ${runs} (seeds ${seed}..${seed + runs - 1})...`);
  const faults = await faultRuns(clean, spec, runs, seed, parallel);
  const injected = Object.values(faults.faults).reduce((a, b) => a + b, 0);

  let crash: Awaited<ReturnType<typeof crashRounds>> | undefined;
  if (crashes > 0) {
    console.log(`Crash rounds: ${crashes} kills...`);
    crash = await crashRounds(clean, crashes, seed);
  }

  const lines = [
    '',
    '== Fault-injection campaign ==',
    `fault runs:              ${faults.runs} of ${runs}`,
    `faults injected:         ${injected}`,
    ...Object.entries(faults.faults)
      .sort()
      .map(([kind, n]) => `  ${kind.padEnd(26)}${n}`),
    `requests:                ${faults.requests}`,
    `non-terminal:            ${faults.nonTerminal}`,
    `partial archives:        ${faults.partial}`,
    `outcome differences:     ${faults.different}`,
    ...(crash
      ? [
          `crash-restarts:          ${crash.kills}`,
          `  requests:              ${crash.requests}`,
          `  non-terminal:          ${crash.nonTerminal}`,
          `  outcome differences:   ${crash.different}`,
        ]
      : []),
    `time:                    ${((Date.now() - started) / 60_000).toFixed(1)} min`,
  ];
  console.log(lines.join('\n'));
  const notes = [...faults.notes, ...(crash?.notes ?? [])];
  if (notes.length > 0) console.log(`\nDifferences:\n${notes.map((n) => `  ${n}`).join('\n')}`);
  const met =
    injected >= 1000 &&
    faults.nonTerminal === 0 &&
    faults.partial === 0 &&
    faults.different === 0 &&
    (!crash || (crash.kills >= 20 && crash.nonTerminal === 0 && crash.different === 0));
  console.log(met ? '\nTargets met.' : '\nTargets NOT met.');
  process.exit(met ? 0 : 1);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(2);
  });
}
