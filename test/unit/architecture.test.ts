/**
 * The layout's boundaries hold because lint enforces them: these cases prove the rule would fail on a
 * Lambda folder importing another, on functions/lib/ importing a Lambda folder, and on an import cycle.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

/** Lints `code` as if it were `file`, with the project's own config (ESLint's CLI: its config is ESM). */
async function ruleIds(file: string, code: string): Promise<string[]> {
  const run = spawnSync(
    process.execPath,
    [
      path.join(root, 'node_modules/eslint/bin/eslint.js'),
      '--format',
      'json',
      '--stdin',
      '--stdin-filename',
      file,
    ],
    { cwd: root, input: code, encoding: 'utf8' },
  );
  const [result] = JSON.parse(run.stdout) as { messages: { ruleId: string | null }[] }[];
  return (result?.messages ?? []).map((m) => m.ruleId ?? 'fatal');
}

test('a Lambda folder importing another Lambda folder fails lint', async () => {
  const ids = await ruleIds(
    'functions/notify/core.ts',
    "import { createApi } from '../api/core';\nexport const api = createApi;\n",
  );
  expect(ids).toContain('import-x/no-restricted-paths');
});

test('a connector importing another connector fails lint', async () => {
  const ids = await ruleIds(
    'functions/connectors/chat/core.ts',
    "import { createLogsConnector } from '../logs/core';\nexport const logs = createLogsConnector;\n",
  );
  expect(ids).toContain('import-x/no-restricted-paths');
});

test('functions/lib importing a Lambda folder fails lint', async () => {
  const ids = await ruleIds(
    'functions/lib/requests/example.ts',
    "import { handler } from '../../sweep/handler';\nexport const sweep = handler;\n",
  );
  expect(ids).toContain('import-x/no-restricted-paths');
});

test('a Lambda folder importing its own files and functions/lib passes', async () => {
  const ids = await ruleIds(
    'functions/notify/core.ts',
    "import type { Mailer } from './mailer';\nimport { log } from '../lib/runtime/logger';\nexport const used: [Mailer | undefined, typeof log] = [undefined, log];\n",
  );
  expect(ids).not.toContain('import-x/no-restricted-paths');
});

test('an import cycle fails lint', async () => {
  // The rule reads imported modules from disk, so the cycle is two real files, removed afterwards.
  const dir = path.join(root, 'functions/lib', `cycle-probe-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(path.join(dir, 'a.ts'), "import { b } from './b';\nexport const a = () => b;\n");
    writeFileSync(path.join(dir, 'b.ts'), "import { a } from './a';\nexport const b = () => a;\n");
    const code = readFileSync(path.join(dir, 'a.ts'), 'utf8');
    const ids = await ruleIds(path.relative(root, path.join(dir, 'a.ts')), code);
    expect(ids).toContain('import-x/no-cycle');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
