/**
 * What every step of one erasure run shares: the run's input (a resumed run carries the sweep's time),
 * its clock, and the inventories the connectors staged for planning and for verification.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { STORE_NAMES, type StoreName } from '../../../config/data-map';
import { getJson, stagingKeys } from '../aws/s3-objects';
import { ContractError } from '../runtime/errors';
import type { CategoryInventory } from './types';

/** The workflow's own input, as the state machine passes it ($$.Execution.Input). */
export interface RunInput {
  requestId?: string;
  /** ISO time a resumed run plans with (the sweep's `now`). */
  asOf?: string;
}

/** The run's clock: `asOf` when the sweep passed one, else now. */
export function asOfDate(run: RunInput | undefined, clock: () => Date): Date {
  return run?.asOf === undefined ? clock() : inputDate(run.asOf, 'asOf');
}

/** An ISO time a workflow step was given as `name`, or a ContractError naming it. */
export function inputDate(value: unknown, name: string): Date {
  const at = new Date(typeof value === 'string' ? value : NaN);
  if (Number.isNaN(at.getTime())) throw new ContractError(`${name} is not a date`);
  return at;
}

/** The inventories of the stores the run took them in (the subject's service's stores; all by default). */
export async function loadInventories(
  s3: S3Client,
  bucket: string,
  requestId: string,
  phase: 'plan' | 'verify',
  stores: readonly StoreName[] = STORE_NAMES,
): Promise<Partial<Record<StoreName, Record<string, CategoryInventory>>>> {
  const out: Partial<Record<StoreName, Record<string, CategoryInventory>>> = {};
  for (const store of stores) {
    out[store] = await getJson<Record<string, CategoryInventory>>(s3, {
      bucket,
      key: stagingKeys.inventory(requestId, store, phase),
    });
  }
  return out;
}
