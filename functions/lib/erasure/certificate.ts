/**
 * The erasure's record and its certificate. Pure functions over plans and counts:
 * - `verifyErasure`: the plan against the inventory taken after erasing (what the plan said would go
 *   and still shows fails the request);
 * - `updateLedger`: the per store/category account of everything the runs of one request did
 *   (deleted, anonymised, retained until when, held by which case), carried across resumed runs;
 * - `buildCertificate` / `signCertificate` / `verifyCertificate`: the signed statement of it.
 * Nothing here holds personal data: stores, categories, counts, dates, legal bases, hold ids and case
 * references; the subject appears only as its keyed hash.
 */
import { createHash } from 'node:crypto';
import type { StoreName } from '../../../config/data-map';
import type {
  CategoryInventory,
  ErasurePlan,
  HoldRef,
  LegalBasis,
  LiveAction,
  PlanEntry,
  PlannedRetention,
} from './types';
import { AppError } from '../runtime/errors';
import {
  JWS_TYPES,
  signCompact,
  verifyCompact,
  type Jwks,
  type JwsSigner,
  type VerificationKeys,
} from '../crypto/jws';

/**
 * Stores whose erase waits for the batched log-erasure job (functions/erase-logs): a run records their
 * categories as pending, and the run the job resumes folds in what the job did (`LogJobOutcome`).
 */
export const LOG_JOB_STORES: readonly StoreName[] = ['logs'];

/** Plan actions the log-erasure job carries out; held and none wait for nothing. */
const LOG_JOB_ACTIONS: readonly PlanEntry['action'][] = ['delete', 'anonymise', 'retain'];

/** True when a plan entry's work is left to the log-erasure job. */
export function waitsForLogJob(entry: Pick<PlanEntry, 'store' | 'action' | 'count'>): boolean {
  return LOG_JOB_STORES.includes(entry.store) && LOG_JOB_ACTIONS.includes(entry.action) && entry.count > 0;
}

/** What the log-erasure job did for one request, per category; recorded on the request until folded in. */
export interface LogJobOutcome {
  jobId: string;
  finishedAt: string;
  categories: {
    store: StoreName;
    category: string;
    liveAction: LiveAction;
    /** Records that left the live logs (those copied to the vault included). */
    removed: number;
    /** Vault copies by expiry (ascending). */
    vaulted: { until: string; count: number }[];
    /** The rule the vault copies were kept under (when the plan retained). */
    rule?: Pick<PlannedRetention, 'jurisdiction' | 'records' | 'basis' | 'period' | 'from' | 'keep'>;
  }[];
}

export const CERTIFICATE_JWS_TYPE = JWS_TYPES.certificate;

/** Thrown by the verification step: `store=<name>` in the message lets describeFailure name the store. */
export class ErasureVerificationFailed extends AppError {
  override name = 'ErasureVerificationFailed';
  constructor(
    readonly store: string,
    readonly category: string,
    readonly remaining: number,
  ) {
    super(
      `Records the plan said would go remain: store=${store} category=${category} remaining=${remaining}`,
      'ERASURE_VERIFICATION_FAILED',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// What the request records

export type RunTrigger = 'request' | 'resumed';

export interface ErasureRun {
  /** 0 for the first run, N for the execution named `<requestId>-r<N>`. */
  run: number;
  executionName: string;
  startedAt: string;
  /** The clock the run planned with (the sweep's `now` for a resumed run). */
  asOf: string;
  trigger: RunTrigger;
  finishedAt?: string;
  outcome?: 'completed' | 'partially_completed';
  /**
   * What this run did, by store: the change it made to the ledger (records removed from the live store,
   * anonymised, newly kept in the vault) and the records a hold left untouched. Taken from the plan as
   * verified, never from what an erase step said: a retried step's last attempt may have done less.
   */
  reported?: StoreOutcome[];
}

export interface StoreOutcome {
  store: string;
  deleted: number;
  anonymised: number;
  retained: number;
  untouched: number;
}

export interface ProcessorAnswer {
  processorId: string;
  name: string;
  run: number;
  status: 'acknowledged' | 'unreachable' | 'not_configured';
  /** The processor's HTTP status, when it answered. */
  httpStatus?: number;
  /** Why it is not acknowledged: a stable code, never the processor's text. */
  reason?: string;
  attempts: number;
  at: string;
  /** `store/category` it was told to erase. */
  categories: string[];
}

export interface CertificatePointer {
  bucket: string;
  key: string;
  number: number;
  issuedAt: string;
  kid: string;
  sha256: string;
}

export interface RetainedPart {
  /** Copied to the retention vault and removed from the store. */
  location: 'vault';
  jurisdiction: string;
  records: string;
  basis: LegalBasis;
  period: string;
  from: string;
  keep: readonly string[];
  /** Still kept, by expiry (ascending). */
  schedule: { until: string; count: number }[];
  /** Kept records whose period has ended and which were destroyed. */
  destroyed: number;
}

export type LedgerState = 'none' | 'deleted' | 'anonymised' | 'retained' | 'held' | 'pending';

export interface LedgerEntry {
  store: StoreName;
  category: string;
  state: LedgerState;
  liveAction: LiveAction;
  /** Records removed from the live store (retained ones included: they left it for the vault). */
  deleted: number;
  /** Records kept in the live store with the subject replaced by an unlinkable placeholder. */
  anonymised: number;
  retained?: RetainedPart;
  holds?: HoldRef[];
  /** Records waiting for the log-erasure job (still in the live logs). */
  pending?: { records: number; reason: 'log-erasure-job' };
  /** The last run that changed this entry. */
  run: number;
}

/** The erasure's own attributes on the request record (requests table). */
export interface ErasureRequestFields {
  /** The latest run's plan (counts, categories, rules, hold ids: no personal data). */
  erasurePlan: ErasurePlan;
  erasureRuns: ErasureRun[];
  erasureLedger: LedgerEntry[];
  /** When the first run deleted the account: `accountDeletion` rules and resumed plans run from it. */
  accountDeletedAt: string;
  processors: ProcessorAnswer[];
  certificate: CertificatePointer;
  /** When the sweep next has something to do for this request (retention end), or null. */
  nextStepAt: string | null;
  /** What the log-erasure job did, recorded by the job and folded into the ledger by the run it resumes. */
  logErasure: LogJobOutcome;
  /** Ids of the holds holding part of the subject's data (the sweep resumes when all are released). */
  heldBy: string[];
}

/**
 * 0 for `<requestId>`, N for `<requestId>-r<N>`; a re-drive by the watchdog (`…-w<K>`) is the same run.
 */
export function runNumberOf(executionName: string | undefined): number {
  const m = /-r(\d{1,6})(?:-w\d{1,3})?$/.exec(executionName ?? '');
  return m?.[1] ? Number(m[1]) : 0;
}

export function resumedExecutionName(requestId: string, run: number): string {
  return `${requestId}-r${run}`;
}

// ---------------------------------------------------------------------------------------------
// Verification

export interface Leftover {
  store: StoreName;
  category: string;
  expected: number;
  remaining: number;
}

export interface VerificationResult {
  passed: boolean;
  /** Categories checked (every category the plan acted on). */
  checked: number;
  leftovers: Leftover[];
  /** What remains by design: held, and waiting for the log-erasure job. */
  kept: { store: StoreName; category: string; remaining: number; reason: 'held' | 'pending-log-job' }[];
}

/** The most of an entry that may remain after the erasure (held: anything). */
function allowedRemaining(entry: PlanEntry, logJobDone: boolean): number | 'any' {
  if (entry.action === 'held' || entry.action === 'none') return 'any';
  // Waiting for the log job: what the plan counted is still there. In the run the job resumed, nothing is.
  if (!logJobDone && waitsForLogJob(entry)) return entry.count;
  return 0;
}

/**
 * Compares the plan with the inventory taken after erasing. Anything the plan said would go
 * (delete, anonymise, retain with its live action) that still counts is a leftover; held categories,
 * and log lines waiting for the log-erasure job, are expected to remain. `logJobDone`: the run the
 * log-erasure job resumed, in which none of the subject's log lines may remain.
 */
export function verifyErasure(
  plan: Pick<ErasurePlan, 'entries'>,
  after: Partial<Record<StoreName, Record<string, CategoryInventory>>>,
  options: { logJobDone?: boolean } = {},
): VerificationResult {
  const result: VerificationResult = { passed: true, checked: 0, leftovers: [], kept: [] };
  for (const entry of plan.entries) {
    if (entry.action === 'none') continue;
    const inv = after[entry.store];
    if (!inv) throw new AppError(`No verification inventory for store=${entry.store}`, 'CONTRACT_VIOLATION');
    const remaining = inv[entry.category]?.count ?? 0;
    const allowed = allowedRemaining(entry, options.logJobDone ?? false);
    if (entry.action !== 'held') result.checked += 1;
    if (allowed === 'any') {
      if (remaining > 0)
        result.kept.push({ store: entry.store, category: entry.category, remaining, reason: 'held' });
    } else if (remaining > allowed) {
      result.leftovers.push({ store: entry.store, category: entry.category, expected: allowed, remaining });
    } else if (remaining > 0) {
      result.kept.push({
        store: entry.store,
        category: entry.category,
        remaining,
        reason: 'pending-log-job',
      });
    }
  }
  result.passed = result.leftovers.length === 0;
  return result;
}

// ---------------------------------------------------------------------------------------------
// The ledger

function pruneSchedule(part: RetainedPart, asOf: Date): RetainedPart {
  let destroyed = part.destroyed;
  const schedule = part.schedule.filter((s) => {
    if (Date.parse(s.until) <= asOf.getTime()) {
      destroyed += s.count;
      return false;
    }
    return true;
  });
  return { ...part, schedule, destroyed };
}

function mergeSchedules(
  a: readonly { until: string; count: number }[],
  b: readonly { until: string; count: number }[],
): RetainedPart['schedule'] {
  const byUntil = new Map<string, number>();
  for (const s of [...a, ...b]) byUntil.set(s.until, (byUntil.get(s.until) ?? 0) + s.count);
  return [...byUntil.entries()]
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([until, count]) => ({ until, count }));
}

function stateOf(entry: Omit<LedgerEntry, 'state'>): LedgerState {
  if (entry.holds?.length) return 'held';
  if (entry.pending) return 'pending';
  if (entry.retained && entry.retained.schedule.length > 0) return 'retained';
  if (entry.deleted === 0 && entry.anonymised === 0) return 'none';
  if (entry.liveAction === 'anonymise' && entry.anonymised > 0) return 'anonymised';
  return entry.deleted > 0 ? 'deleted' : 'anonymised';
}

/** The entry's vault retention under `rule`, with `schedule` added to what earlier runs kept. */
function vaultPart(
  rule: NonNullable<LogJobOutcome['categories'][number]['rule']>,
  base: Omit<LedgerEntry, 'state'>,
  schedule: readonly { until: string; count: number }[],
): RetainedPart {
  return {
    location: 'vault',
    jurisdiction: rule.jurisdiction,
    records: rule.records,
    basis: rule.basis,
    period: rule.period,
    from: rule.from,
    keep: rule.keep,
    schedule: mergeSchedules(base.retained?.schedule ?? [], schedule),
    destroyed: base.retained?.destroyed ?? 0,
  };
}

/** What the log-erasure job did for one category, added to the entry's record. */
function foldLogJob(
  base: Omit<LedgerEntry, 'state'>,
  done: LogJobOutcome['categories'][number],
): Omit<LedgerEntry, 'state'> {
  const { pending: _pending, ...rest } = base;
  const vaulted = done.vaulted.filter((s) => s.count > 0);
  const rule = done.rule;
  const retained =
    rule && (vaulted.length > 0 || base.retained) ? vaultPart(rule, base, vaulted) : base.retained;
  return {
    ...rest,
    deleted: base.deleted + (done.liveAction === 'delete' ? done.removed : 0),
    anonymised: base.anonymised + (done.liveAction === 'anonymise' ? done.removed : 0),
    ...(retained ? { retained } : {}),
  };
}

/**
 * Folds one run's plan into the request's ledger. Categories the run found empty keep what earlier
 * runs recorded (the account deleted by run 0 is still "deleted" in run 2); vault retention whose
 * period ended by `asOf` counts as destroyed (the sweep destroys those vault items before it resumes).
 * Log categories are not erased by the run: they are `pending` while the run counts lines of the subject
 * in the live logs (re-counted by every run), and the run the log-erasure job resumes folds in `logJob`,
 * what the job did.
 */
export function updateLedger(
  previous: readonly LedgerEntry[],
  plan: Pick<ErasurePlan, 'entries'>,
  run: number,
  asOf: Date,
  logJob?: LogJobOutcome,
): LedgerEntry[] {
  const byKey = new Map(previous.map((e) => [`${e.store}/${e.category}`, e]));
  const jobDone = new Map((logJob?.categories ?? []).map((c) => [`${c.store}/${c.category}`, c]));
  const out: LedgerEntry[] = [];
  for (const p of plan.entries) {
    const key = `${p.store}/${p.category}`;
    const before = byKey.get(key);
    byKey.delete(key);
    let base: Omit<LedgerEntry, 'state'> = {
      store: p.store,
      category: p.category,
      liveAction: p.liveAction,
      deleted: before?.deleted ?? 0,
      anonymised: before?.anonymised ?? 0,
      ...(before?.retained ? { retained: pruneSchedule(before.retained, asOf) } : {}),
      run: before?.run ?? run,
    };
    const done = jobDone.get(key);
    if (done) base = { ...foldLogJob(base, done), run };
    let next: Omit<LedgerEntry, 'state'> = base;
    if (waitsForLogJob(p)) {
      // Still in the live logs: the log-erasure job takes them (re-counted by every run).
      next = { ...base, pending: { records: p.count, reason: 'log-erasure-job' }, run };
      out.push({ ...next, state: stateOf(next) });
      continue;
    }
    switch (p.action) {
      case 'none':
        break;
      case 'held':
        next = { ...base, holds: p.holds ? p.holds.map((h) => ({ ...h })) : [], run };
        break;
      case 'delete':
      case 'anonymise':
        next = {
          ...base,
          run,
          deleted: base.deleted + (p.liveAction === 'delete' ? p.count : 0),
          anonymised: base.anonymised + (p.liveAction === 'anonymise' ? p.count : 0),
        };
        break;
      case 'retain': {
        const rule = p.rule;
        // Every record left the store: the vault keeps the retained ones.
        const part = rule && vaultPart(rule, base, rule.schedule);
        next = {
          ...base,
          deleted: base.deleted + (p.liveAction === 'delete' ? p.count : 0),
          anonymised: base.anonymised + (p.liveAction === 'anonymise' ? p.count : 0),
          ...(part ? { retained: part } : {}),
          run,
        };
        break;
      }
    }
    out.push({ ...next, state: stateOf(next) });
  }
  // Categories no longer in the plan (a catalogue change) keep their record.
  for (const rest of byKey.values()) out.push(rest);
  return out;
}

/**
 * What one run did, by store (ErasureRun.reported): the difference between the ledger before and after
 * it, plus the records the run's plan left to holds. The same whatever the run's steps retried.
 */
export function runReport(
  previous: readonly LedgerEntry[],
  next: readonly LedgerEntry[],
  plan: Pick<ErasurePlan, 'entries'>,
): StoreOutcome[] {
  const before = new Map(previous.map((e) => [`${e.store}/${e.category}`, e]));
  const byStore = new Map<string, StoreOutcome>();
  const totalOf = (store: string): StoreOutcome => {
    let total = byStore.get(store);
    if (!total) byStore.set(store, (total = { store, deleted: 0, anonymised: 0, retained: 0, untouched: 0 }));
    return total;
  };
  const kept = (e: LedgerEntry | undefined) =>
    (e?.retained?.schedule ?? []).reduce((n, s) => n + s.count, 0) + (e?.retained?.destroyed ?? 0);
  for (const p of plan.entries) totalOf(p.store).untouched += p.action === 'held' ? p.count : 0;
  for (const e of next) {
    const prior = before.get(`${e.store}/${e.category}`);
    const total = totalOf(e.store);
    total.deleted += e.deleted - (prior?.deleted ?? 0);
    total.anonymised += e.anonymised - (prior?.anonymised ?? 0);
    total.retained += kept(e) - kept(prior);
  }
  return [...byStore.values()];
}

export interface Outstanding {
  status: 'completed' | 'partially_completed';
  /** Earliest end of a running retention, or null. */
  nextStepAt: string | null;
  /** Holds still holding something. */
  heldBy: string[];
  /** Categories whose lines wait for the log-erasure job. */
  pendingLogJob: number;
}

/** Whether anything is still retained or held, and when the sweep next has work for this request. */
export function outstanding(ledger: readonly LedgerEntry[]): Outstanding {
  let nextStepAt: string | null = null;
  const held = new Set<string>();
  let open = false;
  let pendingLogJob = 0;
  for (const e of ledger) {
    if (e.state === 'pending') {
      open = true;
      pendingLogJob += 1;
    }
    if (e.state === 'held') {
      open = true;
      for (const h of e.holds ?? []) held.add(h.holdId);
    }
    for (const s of e.retained?.schedule ?? []) {
      open = true;
      if (nextStepAt === null || s.until < nextStepAt) nextStepAt = s.until;
    }
  }
  return {
    status: open ? 'partially_completed' : 'completed',
    nextStepAt,
    heldBy: [...held].sort(),
    pendingLogJob,
  };
}

// ---------------------------------------------------------------------------------------------
// The certificate

export interface CertificateCategory {
  category: string;
  state: LedgerState;
  deleted: number;
  anonymised: number;
  retained?: {
    location: RetainedPart['location'];
    records: number;
    destroyed: number;
    jurisdiction: string;
    statute: string;
    basis: LegalBasis;
    period: string;
    from: string;
    keptFields: readonly string[];
    /** Latest expiry of what is still kept; earliest in `schedule[0]`. */
    until: string | null;
    schedule: { until: string; count: number }[];
  };
  held?: { holdId: string; caseReference: string }[];
  /** Still in the live store, waiting for the batched log-erasure job. */
  pending?: { records: number; reason: 'log-erasure-job' };
}

/** The service whose controller the erasure was done for (config/services/). */
export interface CertificateService {
  id: string;
  name: string;
  controller: { name: string; legalName: string | null; address: string | null };
}

export interface CertificatePayload {
  type: 'erasure-certificate';
  formatVersion: 1;
  issuer: string;
  /** Absent on certificates issued before services. */
  service?: CertificateService;
  certificateId: string;
  number: number;
  requestId: string;
  /** The subject's keyed hash (HMAC-SHA-256 under our key): recognisable to us only. */
  subject: { keyedHash: string; found: boolean };
  jurisdiction: { requested: string; applied: string };
  policy: { version: string; hash: string };
  requestedAt: string;
  issuedAt: string;
  asOf: string;
  status: Outstanding['status'];
  nextStepAt: string | null;
  stores: { store: StoreName; categories: CertificateCategory[] }[];
  verification: {
    result: 'passed';
    at: string;
    categoriesChecked: number;
    remainingByDesign: VerificationResult['kept'];
  };
  processors: ProcessorAnswer[];
  runs: ErasureRun[];
  /** The previous certificate this one supersedes (re-issued on every run). */
  supersedes?: { number: number; sha256: string };
}

export interface CertificateInput {
  issuer: string;
  service: CertificateService;
  requestId: string;
  requestedAt: string;
  subjectHash: string;
  subjectFound: boolean;
  plan: Pick<ErasurePlan, 'policyVersion' | 'policyHash' | 'jurisdiction'>;
  ledger: readonly LedgerEntry[];
  verification: VerificationResult;
  verifiedAt: string;
  processors: readonly ProcessorAnswer[];
  runs: readonly ErasureRun[];
  number: number;
  issuedAt: string;
  asOf: string;
  previous?: CertificatePointer;
}

function certificateCategory(e: LedgerEntry): CertificateCategory {
  const out: CertificateCategory = {
    category: e.category,
    state: e.state,
    deleted: e.deleted,
    anonymised: e.anonymised,
  };
  if (e.retained) {
    const r = e.retained;
    out.retained = {
      location: r.location,
      records: r.schedule.reduce((n, s) => n + s.count, 0),
      destroyed: r.destroyed,
      jurisdiction: r.jurisdiction,
      statute: r.records,
      basis: r.basis,
      period: r.period,
      from: r.from,
      keptFields: r.keep,
      until: r.schedule.length > 0 ? (r.schedule[r.schedule.length - 1]?.until ?? null) : null,
      schedule: r.schedule.map((s) => ({ ...s })),
    };
  }
  if (e.holds?.length) out.held = e.holds.map((h) => ({ holdId: h.holdId, caseReference: h.caseReference }));
  if (e.pending) out.pending = { ...e.pending };
  return out;
}

export function buildCertificate(input: CertificateInput): CertificatePayload {
  if (!input.verification.passed) {
    const first = input.verification.leftovers[0];
    throw new ErasureVerificationFailed(
      first?.store ?? 'unknown',
      first?.category ?? '',
      first?.remaining ?? 0,
    );
  }
  const state = outstanding(input.ledger);
  const stores = new Map<StoreName, CertificateCategory[]>();
  for (const e of input.ledger) stores.set(e.store, [...(stores.get(e.store) ?? []), certificateCategory(e)]);
  return {
    type: 'erasure-certificate',
    formatVersion: 1,
    issuer: input.issuer,
    service: {
      id: input.service.id,
      name: input.service.name,
      controller: { ...input.service.controller },
    },
    certificateId: `${input.requestId}/${input.number}`,
    number: input.number,
    requestId: input.requestId,
    subject: { keyedHash: input.subjectHash, found: input.subjectFound },
    jurisdiction: { ...input.plan.jurisdiction },
    policy: { version: input.plan.policyVersion, hash: input.plan.policyHash },
    requestedAt: input.requestedAt,
    issuedAt: input.issuedAt,
    asOf: input.asOf,
    status: state.status,
    nextStepAt: state.nextStepAt,
    stores: [...stores.entries()].map(([store, categories]) => ({ store, categories })),
    verification: {
      result: 'passed',
      at: input.verifiedAt,
      categoriesChecked: input.verification.checked,
      remainingByDesign: input.verification.kept,
    },
    processors: input.processors.map((p) => ({ ...p })),
    runs: input.runs.map((r) => ({ ...r })),
    ...(input.previous
      ? { supersedes: { number: input.previous.number, sha256: input.previous.sha256 } }
      : {}),
  };
}

/** Compact JWS (ES256, header `typ: erasure-certificate+jws`) over the certificate's JSON. */
export async function signCertificate(
  payload: CertificatePayload,
  signer: JwsSigner,
): Promise<{ jws: string; sha256: string; kid: string }> {
  const jws = await signCompact(Buffer.from(JSON.stringify(payload), 'utf8'), signer, {
    typ: CERTIFICATE_JWS_TYPE,
    cty: 'json',
  });
  return { jws, sha256: createHash('sha256').update(jws).digest('hex'), kid: await signer.keyId() };
}

/**
 * What an auditor does: check the signature against our JWKS (or one public key) and read the statement.
 */
export async function verifyCertificate(
  jws: string,
  keys: Jwks | VerificationKeys,
): Promise<{ ok: true; kid: string; payload: CertificatePayload } | { ok: false; reason: string }> {
  const result = await verifyCompact(jws, 'keys' in keys ? { jwks: keys } : keys, {
    typ: CERTIFICATE_JWS_TYPE,
  });
  if (!result.ok) return { ok: false, reason: result.reason };
  const payload = JSON.parse(result.payload.toString('utf8')) as CertificatePayload;
  if (payload.type !== 'erasure-certificate') return { ok: false, reason: 'Not an erasure certificate' };
  return { ok: true, kid: result.kid, payload };
}

/** The key certificates are stored under in the exports bucket. */
export function certificateKey(requestId: string, number: number): string {
  return `certificates/${requestId}/certificate-${number}.jws`;
}

/** What GET /v1/requests/{id} shows of an erasure (all of it non-personal). */
export function erasureView(
  record: Partial<ErasureRequestFields> & { requestId: string },
): Record<string, unknown> | undefined {
  if (!record.erasurePlan && !record.erasureRuns && !record.certificate) return undefined;
  const view: Record<string, unknown> = {};
  const plan = record.erasurePlan;
  if (plan) {
    view.policy = { version: plan.policyVersion, hash: plan.policyHash };
    view.jurisdiction = plan.jurisdiction;
    view.plan = {
      plannedAt: plan.plannedAt,
      summary: plan.summary,
      nextStepAt: plan.nextStepAt,
      entries: plan.entries.map((e) => ({
        store: e.store,
        category: e.category,
        action: e.action,
        count: e.count,
        liveAction: e.liveAction,
        ...(e.rule
          ? {
              retention: {
                basis: e.rule.basis,
                period: e.rule.period,
                from: e.rule.from,
                retained: e.rule.retained,
                expired: e.rule.expired,
                until: e.rule.until ?? null,
              },
            }
          : {}),
        ...(e.holds ? { holds: e.holds } : {}),
      })),
    };
  }
  if (record.erasureLedger) view.outcome = record.erasureLedger.map(({ run: _run, ...rest }) => rest);
  if (record.erasureRuns) view.runs = record.erasureRuns;
  if (record.processors) view.processors = record.processors;
  if (record.nextStepAt !== undefined) view.nextStepAt = record.nextStepAt;
  if (record.heldBy?.length) view.heldBy = record.heldBy;
  if (record.certificate) {
    const { number, issuedAt, kid, sha256 } = record.certificate;
    view.certificate = {
      number,
      issuedAt,
      kid,
      sha256,
      href: `/v1/requests/${record.requestId}/certificate`,
    };
  }
  return view;
}
