/**
 * What `npm start` prints while requests run: one line per request status change, read from the audit
 * trail, where every status change is written in the same transaction as the change itself. A line holds
 * the time, the request id, its type and the new status: nothing about the person.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AuditLog, type AuditRecord } from '../functions/lib/audit/audit-log';
import { requestTable } from '../functions/lib/requests/request-table';

const STATUS_ACTION = 'request.status.';
/**
 * An audit entry carries the time its change was prepared, and commits a moment later: each poll looks
 * this far back and skips what it has printed, so a late commit is not missed.
 */
const LOOK_BACK_MS = 30_000;

export interface StatusFeedOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  print: (line: string) => void;
  /** Only changes from this time on (default: now, so a restart does not replay history). */
  since?: Date;
  intervalMs?: number;
}

export function statusLine(record: Pick<AuditRecord, 'at' | 'action' | 'requestId' | 'detail'>): string {
  const type = String(record.detail?.requestType ?? 'request');
  const status = record.action.slice(STATUS_ACTION.length);
  const time = new Date(record.at).toLocaleTimeString('en-GB', { hour12: false });
  return `${time}  ${record.requestId ?? '?'}  ${type}  ${status}`;
}

/** Polls the audit trail and prints each new status change once, oldest first, until stopped. */
export function startStatusFeed(options: StatusFeedOptions): { stop(): Promise<void> } {
  const audit = new AuditLog(requestTable(options.doc, options.tableName));
  const since = (options.since ?? new Date()).toISOString();
  const printed = new Map<string, number>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const poll = async () => {
    const now = Date.now();
    const lookBack = new Date(now - LOOK_BACK_MS).toISOString();
    let cursor: Record<string, string> | undefined;
    do {
      const page = await audit.list({ limit: 100, from: lookBack > since ? lookBack : since, cursor });
      for (const record of page.records) {
        if (!record.action.startsWith(STATUS_ACTION)) continue;
        // Each change has its own version of the request (creation is version 1): one line per change.
        const change = `${record.requestId ?? ''}#${String(record.detail?.version ?? 1)}`;
        if (printed.has(change)) continue;
        printed.set(change, Date.parse(record.at));
        options.print(statusLine(record));
      }
      cursor = page.lastKey;
    } while (cursor && !stopped);
    for (const [id, at] of printed) if (at < now - 2 * LOOK_BACK_MS) printed.delete(id);
  };

  let current = Promise.resolve();
  const tick = () => {
    // A failed poll (the store stopping first, say) is retried at the next tick; it never ends `npm start`.
    current = poll()
      .catch(() => undefined)
      .then(() => {
        if (!stopped) timer = setTimeout(tick, options.intervalMs ?? 500);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
