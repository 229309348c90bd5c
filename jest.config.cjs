/** Jest runs TypeScript through esbuild (types are checked by `tsc --noEmit` in `npm test`). */
// ESM-only dependencies are transformed to CommonJS too.
const ESM_PACKAGES = ['@middy', 'jose'];

// DynamoDB Local's JVMs (one per test stack, `npm start`'s included) compile with C1 only: a JVM that
// lives for seconds spends more CPU in C2's compiler than C2's code saves, and the suite is CPU-bound on
// two cores. The workers and every process they start inherit this; one set by the caller wins.
process.env.JDK_JAVA_OPTIONS ??= '-XX:TieredStopAtLevel=1';

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
