/**
 * Re-applying the suppression list after a restore. Point-in-time recovery of a platform table brings
 * back what was erased since the restore point; the suppression list (`SUPPRESSION#<subjectHash>` items
 * of the vault table, the keyed hash of each erased account's user id) is how we recognise those
 * accounts without having kept who they were. Every account of every accounts table whose user id
 * hashes to a suppressed subject gets a new erasure, under the erasure's own rules (holds, retention).
 * A one-off operator job: it scans the vault's suppressions and the accounts tables.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { scanPages } from '../aws/dynamo-paging';
import { identifierKey, memoizedHasher, type SubjectHasher } from '../crypto/subject-hash';

export interface RestoredAccount {
  userId: string;
  /** The keyed hash of its user id: the suppressed subject's. */
  subjectHash: string;
  service?: string;
  country?: string;
  /** The erasure that suppressed it first. */
  erasedBy?: string;
}

export interface ReapplyDeps {
  doc: DynamoDBDocumentClient;
  hasher: SubjectHasher;
  vaultTable: string;
  accountsTables: readonly string[];
  /** Opens (and starts) an erasure of the account; answers its request id and how the opening went. */
  openErasure(account: RestoredAccount): Promise<{ requestId?: string; outcome: string }>;
}

export interface ReapplyReport {
  suppressed: number;
  accountsChecked: number;
  reErased: { subjectHash: string; requestId?: string; outcome: string }[];
}

export async function reapplySuppressions(deps: ReapplyDeps): Promise<ReapplyReport> {
  const suppressed = new Map<string, string | undefined>();
  for await (const page of scanPages(deps.doc, {
    TableName: deps.vaultTable,
    FilterExpression: '#kind = :kind',
    ProjectionExpression: 'subjectHash, requestId',
    ExpressionAttributeNames: { '#kind': 'kind' },
    ExpressionAttributeValues: { ':kind': 'suppression' },
    ConsistentRead: true,
  })) {
    for (const item of page) {
      if (typeof item.subjectHash === 'string')
        suppressed.set(item.subjectHash, typeof item.requestId === 'string' ? item.requestId : undefined);
    }
  }
  const report: ReapplyReport = { suppressed: suppressed.size, accountsChecked: 0, reErased: [] };
  if (suppressed.size === 0) return report;
  const hasher = memoizedHasher(deps.hasher);
  for (const tableName of deps.accountsTables) {
    for await (const page of scanPages(deps.doc, {
      TableName: tableName,
      ProjectionExpression: 'userId, service, country',
      ConsistentRead: true,
    })) {
      for (const item of page) {
        if (typeof item.userId !== 'string') continue;
        report.accountsChecked += 1;
        const subjectHash = await hasher.hash(identifierKey('userId', item.userId));
        if (!suppressed.has(subjectHash)) continue;
        const opened = await deps.openErasure({
          userId: item.userId,
          subjectHash,
          service: typeof item.service === 'string' ? item.service : undefined,
          country: typeof item.country === 'string' ? item.country : undefined,
          erasedBy: suppressed.get(subjectHash),
        });
        report.reErased.push({ subjectHash, ...opened });
      }
    }
  }
  return report;
}
