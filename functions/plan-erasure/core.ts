/**
 * BuildPlan (erasure workflow): after every store has counted the subject's records (and before anything is
 * changed), load the policy, the request's jurisdiction, the active legal holds on ANY of the subject's
 * identifiers, and the staged inventories; build the plan; stage it for the connectors' erase step; and
 * record it on the request (it holds counts, categories, rules and hold ids only: no personal data).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { planningJurisdiction } from '../lib/erasure/policy';
import { buildPlan } from '../lib/erasure/planner';
import type { ErasurePlan, Inventory, Policy } from '../lib/erasure/types';
import { heldStores, processorIdsOf, recordedService, serviceProfile } from '../lib/services/profiles';
import { runNumberOf, type ErasureRun } from '../lib/erasure/certificate';
import type { StagedSubject, StoreName } from '../lib/connectors/contract';
import { recordLateHolds, stageEmptyLateHolds } from '../lib/erasure/staged-plan';
import type { RequestRecord } from '../lib/requests/records';
import { STORE_NAMES } from '../../config/data-map';
import { ContractError } from '../lib/runtime/errors';
import { activeHoldsOf, toHoldScope, type HeldSubject, type HoldRepository } from '../lib/holds/holds';
import type { RequestRepository } from '../lib/requests/requests';
import type { EventLog } from '../lib/requests/event-log';
import { asOfDate, loadInventories, type RunInput } from '../lib/erasure/run';
import { getJson, getJsonIfExists, putJson, stagingKeys } from '../lib/aws/s3-objects';
import type { SubjectHasher } from '../lib/crypto/subject-hash';

export interface PlanDeps {
  s3: S3Client;
  stagingBucket: string;
  requests: RequestRepository;
  events: Pick<EventLog, 'append' | 'appendOnce'>;
  holds: Pick<HoldRepository, 'activeFor'>;
  hasher: SubjectHasher;
  policy: Policy;
  /** Withdraws the subject's earlier exports (links, archives, staging): lib/downloads/subject-exports. */
  withdrawExports?: (
    requestId: string,
    subjectHashes: readonly string[],
    service: string,
  ) => Promise<string[]>;
  clock?: () => Date;
}

export interface PlanTaskInput {
  requestId: string;
  run?: RunInput;
  executionName?: string;
}

/** CheckHolds (the Erase map, before each store's erase): the holds placed since the plan was built. */
export interface CheckHoldsInput {
  operation: 'checkHolds';
  requestId: string;
  store: StoreName;
  executionName?: string;
}

export interface CheckHoldsOutput {
  requestId: string;
  store: StoreName;
  /** Holds found now that the plan did not apply to this store. */
  lateHolds: number;
  /** The store's records its erase leaves held. */
  held: number;
}

export interface PlanTaskOutput {
  requestId: string;
  entries: number;
  held: number;
  complete: boolean;
}

/** The subject whose holds the erasure honours (every identifier of it, in its service). */
function heldSubject(request: RequestRecord, subject: StagedSubject): HeldSubject {
  return {
    requestHash: request.subjectHash,
    identifiers: subject.identifiers,
    service: subject.service ?? recordedService(request),
  };
}

export async function planErasure(deps: PlanDeps, input: PlanTaskInput): Promise<PlanTaskOutput> {
  if (!input?.requestId) throw new ContractError('requestId is required');
  const clock = deps.clock ?? (() => new Date());
  const request = await deps.requests.require(input.requestId);
  if (request.type !== 'erasure') throw new ContractError('Not an erasure request');
  const now = asOfDate(input.run, clock);
  const run = runNumberOf(input.executionName);

  // A re-driven run (the watchdog, after a crash) keeps the plan its first attempt staged and recorded:
  // its erase may have acted on it already, and a plan rebuilt from what is left would not say so.
  const staged = await getJsonIfExists<ErasurePlan>(deps.s3, {
    bucket: deps.stagingBucket,
    key: stagingKeys.plan(input.requestId),
  });
  const recordedRun = request.erasureRuns?.find((r) => r.run === run && !r.finishedAt);
  if (staged && recordedRun && request.erasurePlan?.plannedAt === staged.plannedAt) {
    return {
      requestId: input.requestId,
      entries: staged.entries.length,
      held: staged.summary.records.held,
      complete: staged.summary.complete,
    };
  }

  const subject = await getJson<StagedSubject>(deps.s3, {
    bucket: deps.stagingBucket,
    key: stagingKeys.subject(input.requestId),
  });
  const service = subject.service ?? recordedService(request);
  const { hashes, holds } = await activeHoldsOf(deps, heldSubject(request, subject));
  // Our own copies go whatever the plan keeps of the stores: an old link must not hand the data out again.
  const withdrawn = (await deps.withdrawExports?.(input.requestId, hashes, service)) ?? [];
  const profile = serviceProfile(service);
  // Only the stores the service keeps were inventoried (resolve-subject lists no other).
  const stores = heldStores(profile);
  const inventory: Inventory = await loadInventories(
    deps.s3,
    deps.stagingBucket,
    input.requestId,
    'plan',
    stores,
  );

  const accountDeletedAt = request.accountDeletedAt ? new Date(request.accountDeletedAt) : now;
  const plan: ErasurePlan = buildPlan({
    policy: deps.policy,
    jurisdiction: planningJurisdiction(request.jurisdiction),
    inventory,
    holds: holds.map(toHoldScope),
    now,
    accountDeletedAt,
    processorIds: processorIdsOf(profile),
    stores,
  });
  // The stores' late-hold records first: once the plan is staged, every reader finds them.
  const staging = { s3: deps.s3, bucket: deps.stagingBucket, requestId: input.requestId };
  await stageEmptyLateHolds(staging, plan, clock());
  await putJson(deps.s3, { bucket: deps.stagingBucket, key: stagingKeys.plan(input.requestId) }, plan);

  const runs: ErasureRun[] = (request.erasureRuns ?? []).filter((r) => r.run !== run);
  runs.push({
    run,
    executionName: input.executionName ?? input.requestId,
    startedAt: clock().toISOString(),
    asOf: now.toISOString(),
    trigger: run === 0 ? 'request' : 'resumed',
  });
  runs.sort((a, b) => a.run - b.run);
  const { records, holds: holding } = plan.summary;
  // The plan, its event and the holds it applies are recorded in one transaction.
  await deps.requests.update(
    input.requestId,
    {
      erasurePlan: plan,
      erasureRuns: runs,
      accountDeletedAt: accountDeletedAt.toISOString(),
    },
    [
      {
        type: 'erasure.planned',
        detail: {
          run,
          policyVersion: plan.policyVersion,
          jurisdiction: plan.jurisdiction.applied,
          delete: records.delete,
          anonymise: records.anonymise,
          retain: records.retain,
          held: records.held,
          holds: holding.length,
          exportsWithdrawn: withdrawn.length,
        },
      },
      ...holding.map((holdId) => ({ type: 'hold.applied', detail: { holdId, run } })),
    ],
  );
  return {
    requestId: input.requestId,
    entries: plan.entries.length,
    held: records.held,
    complete: plan.summary.complete,
  };
}

/**
 * Right before a store's erase, the subject's active holds are read again: one placed after the plan was
 * built holds its scope like one known then (lib/erasure/staged-plan.ts). Every store of the Erase map
 * passes here before its connector runs, so no connector can erase what a hold placed meanwhile covers.
 * Each hold applied here is recorded once per run and store (`hold.applied`, `phase: erase`).
 */
export async function checkHolds(deps: PlanDeps, input: CheckHoldsInput): Promise<CheckHoldsOutput> {
  if (!input?.requestId) throw new ContractError('requestId is required');
  if (!(STORE_NAMES as readonly string[]).includes(input.store)) throw new ContractError('Unknown store');
  const clock = deps.clock ?? (() => new Date());
  const request = await deps.requests.require(input.requestId);
  if (request.type !== 'erasure') throw new ContractError('Not an erasure request');
  const subject = await getJson<StagedSubject>(deps.s3, {
    bucket: deps.stagingBucket,
    key: stagingKeys.subject(input.requestId),
  });
  const { holds } = await activeHoldsOf(deps, heldSubject(request, subject));
  const staging = { s3: deps.s3, bucket: deps.stagingBucket, requestId: input.requestId };
  const { plan, added } = await recordLateHolds(staging, input.store, holds.map(toHoldScope), clock());
  const run = runNumberOf(input.executionName);
  for (const hold of added) {
    await deps.events.appendOnce(input.requestId, `hold.applied#${run}#${input.store}#${hold.holdId}`, [
      { type: 'hold.applied', detail: { holdId: hold.holdId, run, store: input.store, phase: 'erase' } },
    ]);
  }
  const held = plan.entries
    .filter((e) => e.store === input.store && e.action === 'held')
    .reduce((n, e) => n + e.count, 0);
  return { requestId: input.requestId, store: input.store, lateHolds: added.length, held };
}
