/**
 * The requests the crash-restart test and the fault-injection campaign (docs/chaos.md) run, and what
 * they compare of each: klub-outside users, u-minnie (a minor) through her guardian with the power of
 * attorney support records, exports in one wave and erasures in the next.
 */
export interface CampaignRequest {
  type: 'export' | 'erasure';
  service: 'klub-outside';
  subject: { userId: string };
  jurisdiction?: string;
  requester?: { kind: 'guardian'; userId: string; evidenceRef: string };
}

/** u-minnie is a minor at klub-outside: her guardian asks, and support records the power of attorney. */
const GUARDIAN = { kind: 'guardian', userId: 'u-dave', evidenceRef: 'POA-7' } as const;
const POWER_OF_ATTORNEY = {
  method: 'power_of_attorney_appendix11',
  verifiedBy: 'support-agent-3',
  evidenceRef: 'POA-7',
};

const request = (type: CampaignRequest['type'], userId: string, jurisdiction?: string): CampaignRequest => ({
  type,
  service: 'klub-outside',
  subject: { userId },
  ...(jurisdiction ? { jurisdiction } : {}),
  ...(userId === 'u-minnie' ? { requester: GUARDIAN } : {}),
});

export const EXPORT_WAVE: readonly CampaignRequest[] = [
  'u-alice',
  'u-bob',
  'u-carol',
  'u-dave',
  'u-minnie',
  'u-frank',
].map((userId) => request('export', userId));

export const ERASURE_WAVE: readonly CampaignRequest[] = [
  request('erasure', 'u-carol', 'KR'),
  request('erasure', 'u-dave', 'DE'),
  request('erasure', 'u-frank', 'KR'),
  request('erasure', 'u-minnie'),
];

export const TERMINAL = ['completed', 'partially_completed', 'failed', 'cancelled'];

export const labelOf = (r: CampaignRequest) => `${r.type}:${r.subject.userId}`;

type Post = (path: string, body: unknown) => Promise<{ status: number; body: Record<string, unknown> }>;

/** Opens the request (and records the guardian's power of attorney when a guardian asks); its id. */
export async function submit(post: Post, body: CampaignRequest): Promise<string> {
  const created = await post('/v1/requests', body);
  if (created.status !== 202) throw new Error(`POST /v1/requests answered ${created.status}`);
  const requestId = String(created.body.requestId);
  if (body.requester) {
    const verified = await post(`/v1/requests/${requestId}/verification`, POWER_OF_ATTORNEY);
    if (verified.status !== 200) throw new Error(`POST …/verification answered ${verified.status}`);
  }
  return requestId;
}

/** The request as compared with an undisturbed run: status, failure, counts, plan and erasure outcome. */
export function outcomeOf(body: Record<string, unknown>): unknown {
  const erasure = body.erasure as
    { plan?: { summary?: unknown }; outcome?: Record<string, unknown>[] } | undefined;
  const exported = body.export as { records?: unknown; files?: unknown } | undefined;
  return {
    status: body.status,
    failure: body.failure ?? null,
    archive: exported ? { records: exported.records, files: exported.files } : null,
    plan: erasure?.plan?.summary ?? null,
    erased: (erasure?.outcome ?? []).map((e) => [e.store, e.category, e.state, e.deleted, e.anonymised]),
  };
}

/** True while an erasure's log part waits for the log-erasure job. */
export const waitsForLogJob = (body: Record<string, unknown>) =>
  ((body.erasure as { outcome?: { state?: string }[] } | undefined)?.outcome ?? []).some(
    (e) => e.state === 'pending',
  );
