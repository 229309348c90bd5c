/**
 * Two steps of the erasure workflow:
 * - `verify` (Certify): compares the staged plan with the inventory every store took after erasing;
 *   anything the plan said would go that still counts throws ErasureVerificationFailed (the workflow
 *   records the request failed with ERASURE_VERIFICATION_FAILED and the store).
 * - `issue` (MarkDone): folds this run into the request's ledger, builds and signs the certificate
 *   (with the processors' answers NotifyProcessors recorded), stores it in the exports bucket, and moves
 *   the request to `completed`, or `partially_completed` while anything is retained, held or waiting
 *   for the log-erasure job; the log part then joins that job's queue (lib/erasure/log-queue.ts). The
 *   run the job resumes folds in what the job did, and verifies that none of the lines are left.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { StagedSubject } from '../lib/connectors/contract';
import {
  buildCertificate,
  certificateKey,
  ErasureVerificationFailed,
  outstanding,
  runNumberOf,
  signCertificate,
  updateLedger,
  verifyErasure,
  waitsForLogJob,
  type ErasureRun,
  runReport,
  type VerificationResult,
} from '../lib/erasure/certificate';
import { ContractError } from '../lib/runtime/errors';
import type { JwsSigner } from '../lib/crypto/jws';
import type { RequestRepository } from '../lib/requests/requests';
import type { EventLog } from '../lib/requests/event-log';
import { getJson, putJson, stagingKeys } from '../lib/aws/s3-objects';
import { asOfDate, loadInventories, type RunInput } from '../lib/erasure/run';
import type { ErasureSchedule } from '../lib/erasure/schedule';
import { queuedCategories, type LogErasureQueue } from '../lib/erasure/log-queue';
import { loadStagedPlan } from '../lib/erasure/staged-plan';
import { certificateServiceOf, serviceProfile } from '../lib/services/profiles';

export interface CertifyDeps {
  s3: S3Client;
  stagingBucket: string;
  exportsBucket: string;
  requests: RequestRepository;
  events: Pick<EventLog, 'append'>;
  schedule: Pick<ErasureSchedule, 'putItem' | 'removeItem'>;
  logQueue: Pick<LogErasureQueue, 'putItem' | 'removeItem'>;
  signer: JwsSigner;
  issuer: string;
  clock?: () => Date;
}

export interface CertifyInput {
  requestId: string;
  operation: 'verify' | 'issue';
  run?: RunInput;
  executionName?: string;
}

export type CertifyOutput =
  | { requestId: string; verified: true; checked: number }
  | { requestId: string; status: string; certificate?: number };

const verificationKey = (requestId: string) => `${stagingKeys.prefix(requestId)}verification.json`;

interface StagedVerification extends VerificationResult {
  at: string;
}

async function verify(deps: CertifyDeps, input: CertifyInput): Promise<CertifyOutput> {
  const clock = deps.clock ?? (() => new Date());
  const plan = await loadStagedPlan(deps.s3, deps.stagingBucket, input.requestId);
  // The stores the plan covers: the subject's service's (plan-erasure took their inventories).
  const stores = [...new Set(plan.entries.map((e) => e.store))];
  const after = await loadInventories(deps.s3, deps.stagingBucket, input.requestId, 'verify', stores);
  // The run the log-erasure job resumed: the job says it removed every line, so none may be left.
  const request = await deps.requests.require(input.requestId);
  const result = verifyErasure(plan, after, { logJobDone: request.logErasure !== undefined });
  const first = result.leftovers[0];
  if (!result.passed && first) {
    await deps.events.append(input.requestId, {
      type: 'erasure.verification_failed',
      detail: { store: first.store, category: first.category, remaining: first.remaining },
    });
    throw new ErasureVerificationFailed(first.store, first.category, first.remaining);
  }
  const staged: StagedVerification = { ...result, at: clock().toISOString() };
  await putJson(deps.s3, { bucket: deps.stagingBucket, key: verificationKey(input.requestId) }, staged);
  await deps.events.append(input.requestId, {
    type: 'erasure.verified',
    detail: { checked: result.checked, remainingByDesign: result.kept.length },
  });
  return { requestId: input.requestId, verified: true, checked: result.checked };
}

async function issue(deps: CertifyDeps, input: CertifyInput): Promise<CertifyOutput> {
  const clock = deps.clock ?? (() => new Date());
  const request = await deps.requests.require(input.requestId);
  const run = runNumberOf(input.executionName);
  const runs = request.erasureRuns ?? [];
  const current = runs.find((r) => r.run === run);
  // A retried step after the status change: the certificate of this run exists already.
  if (current?.finishedAt) return { requestId: input.requestId, status: request.status };
  if (request.status !== 'in_progress') {
    throw new ContractError('The request is not in progress');
  }

  const staging = { bucket: deps.stagingBucket };
  // With the holds found at erase time: held there is held in the ledger and the certificate.
  const plan = await loadStagedPlan(deps.s3, deps.stagingBucket, input.requestId);
  const verification = await getJson<StagedVerification>(deps.s3, {
    ...staging,
    key: verificationKey(input.requestId),
  });
  const subject = await getJson<StagedSubject>(deps.s3, {
    ...staging,
    key: stagingKeys.subject(input.requestId),
  });
  const asOf = asOfDate(input.run, clock);
  const ledger = updateLedger(request.erasureLedger ?? [], plan, run, asOf, request.logErasure);
  const state = outstanding(ledger);
  const issuedAt = clock().toISOString();
  const finishedRuns: ErasureRun[] = runs.map((r) =>
    r.run === run
      ? {
          ...r,
          finishedAt: issuedAt,
          outcome: state.status,
          reported: runReport(request.erasureLedger ?? [], ledger, plan),
        }
      : r,
  );
  const number = run + 1;
  const payload = buildCertificate({
    issuer: deps.issuer,
    // The staged subject's service, else the one recorded on the request at the first run.
    service: certificateServiceOf(serviceProfile(subject.service ?? request.service)),
    requestId: input.requestId,
    requestedAt: request.createdAt,
    subjectHash: subject.subjectHash,
    subjectFound: subject.found,
    plan,
    ledger,
    verification,
    verifiedAt: verification.at,
    processors: request.processors ?? [],
    runs: finishedRuns,
    number,
    issuedAt,
    asOf: asOf.toISOString(),
    previous: request.certificate,
  });
  const signed = await signCertificate(payload, deps.signer);
  const key = certificateKey(input.requestId, number);
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.exportsBucket,
      Key: key,
      Body: signed.jws,
      ContentType: 'application/jose',
    }),
  );
  const certificate = {
    bucket: deps.exportsBucket,
    key,
    number,
    issuedAt,
    kid: signed.kid,
    sha256: signed.sha256,
  };

  // The schedule and the deadline change commit with the status: a retry finds all of them or none.
  await deps.requests.transition(
    input.requestId,
    state.status,
    {
      // The plan as carried out: late holds included.
      erasurePlan: plan,
      erasureLedger: ledger,
      erasureRuns: finishedRuns,
      certificate,
      nextStepAt: state.nextStepAt,
      heldBy: state.heldBy,
    },
    {
      event: {
        type: 'erasure.certified',
        detail: {
          run,
          certificate: number,
          status: state.status,
          held: state.heldBy.length,
          ...(state.pendingLogJob > 0 ? { pendingLogJob: state.pendingLogJob } : {}),
          ...(state.nextStepAt ? { nextStepAt: state.nextStepAt } : {}),
        },
      },
      // The identifier set is needed only while a later run may come.
      // The job's outcome is in the ledger now.
      remove: [
        ...(state.status === 'completed' ? ['resolvedSubject'] : []),
        ...(request.logErasure ? ['logErasure'] : []),
      ],
      sideItems: [
        state.status === 'completed'
          ? deps.schedule.removeItem(input.requestId)
          : deps.schedule.putItem({
              requestId: input.requestId,
              nextStepAt: state.nextStepAt,
              heldBy: state.heldBy,
            }),
        // The log part waits for the log-erasure job, queued with the partially completed status it
        // needs (the job never resumes a run that is still going).
        state.pendingLogJob > 0
          ? deps.logQueue.putItem({
              requestId: input.requestId,
              subjectHash: request.subjectHash,
              queuedAt: issuedAt,
              run,
              categories: queuedCategories(plan.entries.filter(waitsForLogJob)),
            })
          : deps.logQueue.removeItem(input.requestId),
      ],
      clearOpenDeadline: state.status !== 'completed',
    },
  );
  return { requestId: input.requestId, status: state.status, certificate: number };
}

export async function certifyErasure(deps: CertifyDeps, input: CertifyInput): Promise<CertifyOutput> {
  if (!input?.requestId) throw new ContractError('requestId is required');
  switch (input.operation) {
    case 'verify':
      return verify(deps, input);
    case 'issue':
      return issue(deps, input);
    default:
      throw new ContractError('Unknown certify operation');
  }
}
