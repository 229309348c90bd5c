/**
 * The order Jest starts test files in: the longest first, so that its two workers end together. Jest's
 * own order puts the slowest first only once it has timed them (its cache, absent from a fresh clone);
 * before that it goes by file size, and the two campaigns (about 60 and 115 s, short files) started
 * last: one worker ran them alone while the other stood idle for half a minute. Here the files known to
 * be long come first, then the other files that start a local stack (integration, browser and CDK
 * tests), then the chaos campaign, then the unit tests; Jest's own order holds within each group. The
 * chaos campaign runs beside the unit tests, as it always has: its faults are timed against a 3 s
 * client timeout, and it is not to share the machine with the crash campaign's three stacks.
 */
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/** Files measured at 40 s or more in a CI run on two cores, longest first. */
const LONGEST = [
  'integration/crash-restart.test.ts',
  'infra/stack.test.ts',
  'integration/services-end-to-end.test.ts',
  'integration/log-erasure-job.test.ts',
  'integration/readme-walkthrough.test.ts',
  'integration/erasure-late-holds.test.ts',
  'integration/erasure-workflow.test.ts',
  'browser/archive-index.test.ts',
];
const CHAOS = 'integration/chaos-sample.test.ts';

function group(testPath) {
  const relative = path.relative(path.join(__dirname, '..'), testPath).split(path.sep).join('/');
  const longest = LONGEST.indexOf(relative);
  if (longest !== -1) return longest;
  if (relative === CHAOS) return LONGEST.length + 1;
  return relative.startsWith('unit/') ? LONGEST.length + 2 : LONGEST.length;
}

class LongestFirst extends Sequencer {
  sort(tests) {
    // Array#sort is stable: Jest's order stays within a group.
    return [...super.sort(tests)].sort((a, b) => group(a.path) - group(b.path));
  }
}

module.exports = LongestFirst;
