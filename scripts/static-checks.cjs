// `npm test`'s static checks: the type check (`npm run typecheck`) and the lint (`npm run lint`) at once,
// each on a core of its own (together about half a minute less than one after the other). Each one's
// output is printed whole when it ends, never interleaved; the exit code is non-zero if either failed.
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(script) {
  return new Promise((resolve) => {
    const child = spawn(npm, ['run', '--silent', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ script, code: 1, output: `${output}${error.message}\n` }));
    child.on('close', (code) => resolve({ script, code: code ?? 1, output }));
  });
}

const started = Date.now();
const pending = ['typecheck', 'lint'].map((script) =>
  run(script).then((result) => {
    const verdict = result.code === 0 ? 'passed' : `FAILED (exit ${result.code})`;
    process.stdout.write(
      `${result.output}${result.script} ${verdict} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
    );
    return result.code;
  }),
);
Promise.all(pending).then((codes) => {
  process.exitCode = codes.some((code) => code !== 0) ? 1 : 0;
});
