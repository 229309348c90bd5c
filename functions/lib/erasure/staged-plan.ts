/**
 * The plan every step after BuildPlan acts on: the plan BuildPlan staged, with the holds each store's
 * hold check found at erase time applied (`applyLateHolds`). Erase, Verify, NotifyProcessors and MarkDone
 * all read it here, so a hold placed after planning is honoured by every one of them alike: the store
 * leaves the held scope untouched, verification skips it, processors are not told, and the ledger and
 * certificate say held.
 *
 * Each store's check writes its own file (`stagingKeys.lateHolds`): the Erase map checks its stores
 * concurrently, and one file per store needs no coordination. A file names the plan it was made for
 * (`plannedAt`): one left by an earlier run whose staging outlived it does not apply to a new plan.
 * BuildPlan stages every store's file, empty, before the plan itself: readers then never ask for a
 * missing object (without s3:ListBucket, which the readers are not granted, S3 answers that with 403).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { getJson, getJsonIfExists, putJson, stagingKeys } from '../aws/s3-objects';
import { applyLateHolds } from './planner';
import type { ErasurePlan, HoldScope, StoreName } from './types';

export interface LateHoldCheck {
  formatVersion: 1;
  /** The plan the check was made against. */
  plannedAt: string;
  store: StoreName;
  checkedAt: string;
  /** Holds the plan did not apply to this store's entries (ids, case references, scopes only). */
  holds: HoldScope[];
}

interface Staging {
  s3: S3Client;
  bucket: string;
  requestId: string;
}

function storesOf(plan: ErasurePlan): StoreName[] {
  return [...new Set(plan.entries.map((e) => e.store))];
}

async function readCheck(staging: Staging, store: StoreName): Promise<LateHoldCheck | undefined> {
  return getJsonIfExists<LateHoldCheck>(staging.s3, {
    bucket: staging.bucket,
    key: stagingKeys.lateHolds(staging.requestId, store),
  });
}

/** Stages every store's late-hold record, empty, for a plan about to be staged (BuildPlan). */
export async function stageEmptyLateHolds(staging: Staging, plan: ErasurePlan, now: Date): Promise<void> {
  for (const store of storesOf(plan)) {
    const check: LateHoldCheck = {
      formatVersion: 1,
      plannedAt: plan.plannedAt,
      store,
      checkedAt: now.toISOString(),
      holds: [],
    };
    await putJson(
      staging.s3,
      { bucket: staging.bucket, key: stagingKeys.lateHolds(staging.requestId, store) },
      check,
    );
  }
}

/** `plan` with every store's late holds applied. */
export async function withLateHolds(staging: Staging, plan: ErasurePlan): Promise<ErasurePlan> {
  let out = plan;
  for (const store of storesOf(plan)) {
    const check = await readCheck(staging, store);
    if (check?.plannedAt === plan.plannedAt) out = applyLateHolds(out, store, check.holds);
  }
  return out;
}

/** The staged plan as the steps after BuildPlan must act on it. */
export async function loadStagedPlan(s3: S3Client, bucket: string, requestId: string): Promise<ErasurePlan> {
  const staging = { s3, bucket, requestId };
  const plan = await getJson<ErasurePlan>(s3, { bucket, key: stagingKeys.plan(requestId) });
  return withLateHolds(staging, plan);
}

/** Ids of the holds holding something of `store` in `plan`. */
function holdIdsOf(plan: ErasurePlan, store: StoreName): Set<string> {
  return new Set(
    plan.entries.filter((e) => e.store === store).flatMap((e) => (e.holds ?? []).map((h) => h.holdId)),
  );
}

/**
 * Records which of the subject's active `holds` hold part of `store` that the plan (and earlier checks)
 * did not, and returns them; nothing is written when there are none. Idempotent: a retried check finds
 * its own file and adds only what is new since.
 */
export async function recordLateHolds(
  staging: Staging,
  store: StoreName,
  holds: readonly HoldScope[],
  now: Date,
): Promise<{ plan: ErasurePlan; added: HoldScope[] }> {
  const plan = await loadStagedPlan(staging.s3, staging.bucket, staging.requestId);
  const before = holdIdsOf(plan, store);
  const after = holdIdsOf(applyLateHolds(plan, store, holds), store);
  const added = holds.filter((h) => after.has(h.holdId) && !before.has(h.holdId));
  if (added.length === 0) return { plan, added };
  const previous = await readCheck(staging, store);
  const check: LateHoldCheck = {
    formatVersion: 1,
    plannedAt: plan.plannedAt,
    store,
    checkedAt: now.toISOString(),
    holds: [...(previous?.plannedAt === plan.plannedAt ? previous.holds : []), ...added],
  };
  await putJson(
    staging.s3,
    { bucket: staging.bucket, key: stagingKeys.lateHolds(staging.requestId, store) },
    check,
  );
  return { plan: applyLateHolds(plan, store, added), added };
}
