// Minimal Jest transformer: TypeScript (and ESM-only packages) -> CommonJS with esbuild.
// Type checking is tsc's job; dynamic import() is lowered to require() because Jest's CommonJS
// runtime cannot run it without --experimental-vm-modules.
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const result = transformSync(source, {
      loader: filename.endsWith('.ts') ? 'ts' : 'js',
      format: 'cjs',
      target: 'node20',
      supported: { 'dynamic-import': false },
      sourcemap: 'inline',
      sourcefile: filename,
    });
    return { code: result.code };
  },
};
