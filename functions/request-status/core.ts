/**
 * Records a workflow's progress on its request: in_progress, completed (with the archive pointer),
 * or failed (with a stable reason code and, where one store failed, which), each with its event in the
 * same transaction. Idempotent: a retried call, or a late one, never moves a request backwards.
 */
import type { ExportArchive, RequestFailure, RequestStatus } from '../lib/requests/records';
import type { RequestRepository } from '../lib/requests/requests';
import { ContractError } from '../lib/runtime/errors';

export interface StatusInput {
  requestId: string;
  status: Extract<RequestStatus, 'in_progress' | 'completed' | 'failed'>;
  archive?: ExportArchive;
  found?: boolean;
  /** A Step Functions Catch result: { Error, Cause }. */
  failure?: { Error?: string; Cause?: string };
}

const FAILURE_CODES: Record<string, string> = {
  SubjectConflictError: 'SUBJECT_CONFLICT',
  StoreFailed: 'STORE_FAILED',
  'States.Timeout': 'TIMEOUT',
  ContractError: 'INTERNAL_ERROR',
  ArchiveAssemblyError: 'ASSEMBLY_FAILED',
  // Erasure outcomes.
  ErasureVerificationFailed: 'ERASURE_VERIFICATION_FAILED',
  PlanError: 'PLAN_INVALID',
  PolicyError: 'POLICY_INVALID',
};

/** Turns a Catch result into our reason code; the cause is parsed only for the store name. */
export function describeFailure(failure: StatusInput['failure']): RequestFailure {
  const error = failure?.Error ?? 'Unknown';
  const code = FAILURE_CODES[error] ?? 'INTERNAL_ERROR';
  const store = /(?:^|\s)store=([a-z][a-z0-9-]*)/.exec(failure?.Cause ?? '')?.[1];
  return store ? { code, store } : { code };
}

export interface StatusOutput {
  changed: boolean;
  /** For in_progress: whether the workflow should go on (false once the request was cancelled). */
  proceed?: boolean;
}

export interface StatusDeps {
  requests: RequestRepository;
}

export async function recordStatus({ requests }: StatusDeps, input: StatusInput): Promise<StatusOutput> {
  if (!input.requestId) throw new ContractError('requestId is required');
  switch (input.status) {
    case 'in_progress': {
      const changed = await requests.transition(
        input.requestId,
        'in_progress',
        {},
        { event: { type: 'request.in_progress' } },
      );
      if (changed) return { changed, proceed: true };
      // Not changed: a retried step (already in progress: go on) or a request cancelled before its
      // workflow started (stop, build nothing).
      const current = await requests.get(input.requestId);
      return { changed, proceed: current?.status === 'in_progress' };
    }
    case 'completed': {
      if (!input.archive) throw new ContractError('A completed export needs its archive');
      const changed = await requests.transition(
        input.requestId,
        'completed',
        { export: input.archive, subjectFound: input.found },
        {
          event: {
            type: 'request.completed',
            detail: {
              files: input.archive.files,
              records: input.archive.records,
              subjectFound: input.found ?? true,
            },
          },
        },
      );
      return { changed };
    }
    case 'failed': {
      const failure = describeFailure(input.failure);
      return { changed: await requests.fail(input.requestId, failure) };
    }
    default:
      throw new ContractError('Unknown status');
  }
}
