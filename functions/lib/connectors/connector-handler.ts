/**
 * The handler every connector Lambda exports: load the staged subject, run the connector's operation
 * into a staging area, write the store index, and return a pointer with counts.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type {
  BetweenBatchesHook,
  CategoryInventoryView,
  CategoryOutcome,
  CollectResult,
  Connector,
  ConnectorOperation,
  ConnectorTaskInput,
  EraseResult,
  ErasureContext,
  InventoryResult,
  PlanEntryView,
  RestrictResult,
  StagedSubject,
  VaultWriter,
} from './contract';
import { STORE_CATEGORIES } from '../erasure/types';
import { ContractError } from '../runtime/errors';
import { getJson, putJson, stagingKeys } from '../aws/s3-objects';
import { loadStagedPlan } from '../erasure/staged-plan';
import { StagingArea } from './staging';
import { taskHandler } from '../runtime/task-handler';
import { restrictionKeys, type RestrictionPlan, type StoreRestrictionResult } from '../restrictions/plan';

export interface ConnectorRuntime {
  s3: S3Client;
  stagingBucket: string;
  clock?: () => Date;
  /** Where retained records go; only connectors whose store has retention rules get one. */
  vault?: VaultWriter;
}

/**
 * One store's connector for each service: the same connector code over the stores of the subject's
 * service (the shared ones, or those the data map gives the service; service-connectors.ts).
 */
export interface ServiceConnectors {
  readonly store: Connector['store'];
  forService(service: string | undefined): Connector;
}

/** A connector, or a connector per service. */
export type ConnectorSource = Connector | ServiceConnectors;

/** The staged subject, and the connector serving its service. */
async function loadSubject(
  runtime: ConnectorRuntime,
  source: ConnectorSource,
  input: ConnectorTaskInput,
): Promise<{ subject: StagedSubject; connector: Connector }> {
  if (input.store !== source.store) {
    throw new ContractError(`Connector ${source.store} was asked to serve ${input.store}`);
  }
  const subject = await getJson<StagedSubject>(runtime.s3, {
    bucket: runtime.stagingBucket,
    key: stagingKeys.subject(input.requestId),
  });
  const connector = 'forService' in source ? source.forService(subject.service) : source;
  return { subject, connector };
}

/** The name others' records carry once the subject is erased: stable within a request, unlinkable to them. */
export function tombstoneFor(subject: StagedSubject): string {
  const digest = createHash('sha256').update(`${subject.subjectHash}:${subject.requestId}`).digest('hex');
  return `erased-user-${digest.slice(0, 16)}`;
}

let betweenBatchesHook: BetweenBatchesHook | undefined;

/** Sets (or, with undefined, removes) what runs between a connector's batches: fault injection only. */
export function setBetweenBatchesHook(hook: BetweenBatchesHook | undefined): void {
  betweenBatchesHook = hook;
}

/** The context's `betweenBatches`: nothing at all unless a hook is set. */
function betweenBatches(
  requestId: string,
  store: Connector['store'],
  operation: ConnectorOperation,
): { betweenBatches?: () => Promise<void> } {
  const hook = betweenBatchesHook;
  return hook ? { betweenBatches: () => hook({ requestId, store, operation }) } : {};
}

function erasureContext(
  subject: StagedSubject,
  runtime: ConnectorRuntime,
  store: Connector['store'],
  operation: ConnectorOperation,
): ErasureContext {
  return {
    requestId: subject.requestId,
    subject,
    tombstone: tombstoneFor(subject),
    now: runtime.clock ?? (() => new Date()),
    ...betweenBatches(subject.requestId, store, operation),
  };
}

export async function runInventory(
  source: ConnectorSource,
  runtime: ConnectorRuntime,
  input: ConnectorTaskInput,
): Promise<InventoryResult> {
  const { subject, connector } = await loadSubject(runtime, source, input);
  if (!connector.inventory) throw new ContractError(`Connector ${connector.store} cannot take inventory`);
  const found = subject.found
    ? await connector.inventory(erasureContext(subject, runtime, connector.store, 'inventory'))
    : {};
  // Every category is reported, zeros included, so the plan and the verification see the whole store.
  const inventory: Record<string, CategoryInventoryView> = {};
  for (const category of STORE_CATEGORIES[connector.store])
    inventory[category] = found[category] ?? { count: 0 };
  const unknown = Object.keys(found).filter((c) => !(c in inventory));
  if (unknown.length > 0) throw new ContractError(`Connector ${connector.store} reported unknown categories`);
  const phase = input.phase ?? 'plan';
  const pointer = {
    bucket: runtime.stagingBucket,
    key: stagingKeys.inventory(input.requestId, connector.store, phase),
  };
  await putJson(runtime.s3, pointer, inventory);
  const records = Object.values(inventory).reduce((sum, c) => sum + c.count, 0);
  return { store: connector.store, phase, inventory: pointer, records };
}

export async function runErase(
  source: ConnectorSource,
  runtime: ConnectorRuntime,
  input: ConnectorTaskInput,
): Promise<EraseResult> {
  const { subject, connector } = await loadSubject(runtime, source, input);
  if (!connector.erase) throw new ContractError(`Connector ${connector.store} cannot erase`);
  // With the holds the store's check found at erase time: what they hold is left as it is.
  const plan = await loadStagedPlan(runtime.s3, runtime.stagingBucket, input.requestId);
  const entries: PlanEntryView[] = plan.entries.filter((e) => e.store === connector.store);
  // Erase acts as of the plan's time, so what is expired and what is still retained is exactly what
  // the plan decided (a resumed run plans as of the sweep's time).
  const plannedAt = plan.plannedAt ? new Date(plan.plannedAt) : undefined;
  const planClock = plannedAt ? { ...runtime, clock: () => plannedAt } : runtime;
  const needsVault = !connector.erasedByLogJob && entries.some((e) => e.action === 'retain');
  if (needsVault && !runtime.vault)
    throw new ContractError(`Connector ${connector.store} has no vault to retain into`);
  const vault: VaultWriter = runtime.vault ?? {
    put: async () => {
      throw new ContractError('No vault');
    },
  };
  const outcome: Record<string, CategoryOutcome> = subject.found
    ? await connector.erase({
        ...erasureContext(subject, planClock, connector.store, 'erase'),
        plan: entries,
        vault,
      })
    : {};
  return { store: connector.store, outcome };
}

/**
 * Sets the consents of the staged restriction plan, and stages what they were before (the apply request
 * keeps them, so that lifting gives the person back their own choice). A store that keeps no consents
 * changes nothing.
 */
async function runRestrict(
  source: ConnectorSource,
  runtime: ConnectorRuntime,
  input: ConnectorTaskInput,
): Promise<RestrictResult> {
  const { subject, connector } = await loadSubject(runtime, source, input);
  const plan = await getJson<RestrictionPlan>(runtime.s3, {
    bucket: runtime.stagingBucket,
    key: restrictionKeys.plan(input.requestId),
  });
  const outcome =
    subject.found && connector.restrict && Object.keys(plan.consents).length > 0
      ? await connector.restrict({
          requestId: input.requestId,
          subject,
          consents: plan.consents,
          now: runtime.clock ?? (() => new Date()),
        })
      : { accounts: 0 };
  const staged: StoreRestrictionResult = { store: connector.store, ...outcome };
  await putJson(
    runtime.s3,
    { bucket: runtime.stagingBucket, key: restrictionKeys.store(input.requestId, connector.store) },
    staged,
  );
  return { store: connector.store, accounts: outcome.accounts };
}

async function runCollect(
  source: ConnectorSource,
  runtime: ConnectorRuntime,
  input: ConnectorTaskInput,
): Promise<CollectResult> {
  const { subject, connector } = await loadSubject(runtime, source, input);
  const staging = new StagingArea(runtime.s3, runtime.stagingBucket, connector.store, subject, runtime.clock);
  // An unknown subject has nothing to collect; its store index is still written, empty, so the
  // archive says so explicitly.
  if (subject.found) {
    try {
      await connector.collect({
        ...staging.context(),
        ...betweenBatches(subject.requestId, connector.store, 'collect'),
      });
    } catch (error) {
      await staging.abort();
      throw error;
    }
  }
  const index = await staging.finish();
  const pointer = {
    bucket: runtime.stagingBucket,
    key: stagingKeys.storeIndex(input.requestId, connector.store),
  };
  await putJson(runtime.s3, pointer, index);
  return {
    store: connector.store,
    index: pointer,
    records: index.collections.reduce((sum, c) => sum + c.records, 0),
    mediaFiles: index.media.length,
    bytes:
      index.collections.reduce((sum, c) => sum + c.bytes, 0) +
      index.media.reduce((sum, m) => sum + m.bytes, 0),
  };
}

export function connectorHandler(connector: ConnectorSource, runtime: () => ConnectorRuntime) {
  return taskHandler<ConnectorTaskInput, CollectResult | InventoryResult | EraseResult | RestrictResult>(
    `connector-${connector.store}`,
    async (input) => {
      switch (input.operation) {
        case 'collect':
          return runCollect(connector, runtime(), input);
        case 'inventory':
          return runInventory(connector, runtime(), input);
        case 'erase':
          return runErase(connector, runtime(), input);
        case 'restrict':
          return runRestrict(connector, runtime(), input);
        default:
          throw new ContractError(`Unknown connector operation`);
      }
    },
  );
}
