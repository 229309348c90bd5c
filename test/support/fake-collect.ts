/** A CollectContext that keeps what a connector writes in memory: for connector unit tests. */
import type {
  CollectContext,
  CollectionSpec,
  StagedMedia,
  StagedSubject,
  SubjectIdentifiers,
} from '../../functions/lib/connectors/contract';
import { pseudonymFor } from '../../functions/lib/crypto/pseudonym';
import { sanitizeArchivePath, UniquePaths } from '../../functions/lib/export/archive-path';

export interface FakeCollect {
  ctx: CollectContext;
  collections: Map<string, { spec: CollectionSpec; records: Record<string, unknown>[] }>;
  media: StagedMedia[];
}

export function fakeCollect(identifiers: Partial<SubjectIdentifiers>, salt = 'test-salt'): FakeCollect {
  const subject: StagedSubject = {
    requestId: 'req_00000000000000000000000000000001',
    subjectHash: 'hash',
    found: true,
    pseudonymSalt: salt,
    identifiers: { userIds: [], emails: [], phones: [], deviceIds: [], externalAccounts: [], ...identifiers },
  };
  const collections: FakeCollect['collections'] = new Map();
  const media: StagedMedia[] = [];
  const paths = new UniquePaths();
  const ctx: CollectContext = {
    requestId: subject.requestId,
    subject,
    collection(spec) {
      const entry = collections.get(spec.name) ?? { spec, records: [] };
      collections.set(spec.name, entry);
      return { write: async (record) => void entry.records.push(structuredClone(record)) };
    },
    addMedia({ suggestedPath, ...rest }) {
      const archivePath = paths.claim(sanitizeArchivePath(suggestedPath));
      media.push({ ...rest, archivePath });
      return archivePath;
    },
    pseudonym: (id) => pseudonymFor(salt, id),
    now: () => new Date('2026-11-01T00:00:00Z'),
  };
  return { ctx, collections, media };
}
