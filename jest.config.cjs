/** Jest runs TypeScript through esbuild (types are checked by `tsc --noEmit` in `npm test`). */
// ESM-only dependencies are transformed to CommonJS too.
const ESM_PACKAGES = ['@middy', 'jose'];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.[tj]s$': '<rootDir>/test/support/esbuild-transform.cjs' },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
  setupFiles: ['<rootDir>/local/polyfills.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
  // The longest files first, so that both workers end together (test/support/sequencer.cjs).
  testSequencer: '<rootDir>/test/support/sequencer.cjs',
};
