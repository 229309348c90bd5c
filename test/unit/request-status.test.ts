import { describeFailure } from '../../functions/request-status/core';

test.each([
  [{ Error: 'SubjectConflictError', Cause: '{"errorMessage":"x"}' }, { code: 'SUBJECT_CONFLICT' }],
  [
    { Error: 'StoreFailed', Cause: 'store=payments error=TransientError' },
    { code: 'STORE_FAILED', store: 'payments' },
  ],
  [{ Error: 'States.Timeout' }, { code: 'TIMEOUT' }],
  [{ Error: 'ArchiveAssemblyError', Cause: 'x' }, { code: 'ASSEMBLY_FAILED' }],
  [{ Error: 'SomethingElse', Cause: 'store=../../etc error=x' }, { code: 'INTERNAL_ERROR' }],
  [undefined, { code: 'INTERNAL_ERROR' }],
])('describeFailure(%j) -> %j', (failure, expected) => {
  expect(describeFailure(failure)).toEqual(expected);
});
