/**
 * The identifier indexer Lambda. Invoked by the accounts table's stream (a batch of records; a failed
 * record is reported so the stream retries from it, ReportBatchItemFailures), or by an operator with
 * `{"backfill": {"segment": i, "totalSegments": n}}` to index the accounts older than the stream
 * (docs/deploy.md). The local stack feeds it the stream of DynamoDB Local (local/dynamodb-stream.ts).
 */
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { ENV } from '../../config/data-map';
import { documentClient } from '../lib/aws/clients';
import { subjectHasherFromEnv } from '../lib/crypto/subject-hash';
import { requireEnv } from '../lib/runtime/config';
import { serviceStoresFromEnv } from '../lib/services/stores';
import {
  backfillIdentifierIndex,
  indexStreamRecords,
  type BackfillOptions,
  type BackfillResult,
  type IndexerDeps,
} from './core';

const stores = serviceStoresFromEnv();

export const deps: IndexerDeps = {
  doc: documentClient(),
  hasher: subjectHasherFromEnv(),
  indexTable: requireEnv(ENV.identifierIndexTable),
  // The shared accounts table and every service's own: each one's stream reaches this function.
  accountsTables: stores
    .allNames(ENV.accountsTable)
    .map((tableName) => ({ tableName, owner: stores.ownerOf(ENV.accountsTable, tableName) })),
};

export type IndexerEvent = DynamoDBStreamEvent | { backfill: BackfillOptions };

export const handler = middy<IndexerEvent, DynamoDBBatchResponse | BackfillResult>().handler((event) =>
  'Records' in event
    ? indexStreamRecords(deps, event.Records)
    : backfillIdentifierIndex(deps, event.backfill),
);
