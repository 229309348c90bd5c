/**
 * Creates the platform's stores and the orchestrator's own resources on the local stack, from the data
 * map (the one place that names them). Idempotent: whatever already exists is left as it is, except that
 * a table the data map gives a stream gets it, and an index projecting other than the data map says is
 * built again.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTableCommand,
  waitUntilTableExists,
  type AttributeDefinition,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type KeySchemaElement,
  type Projection,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  ALL_ORCHESTRATOR_BUCKETS,
  ALL_ORCHESTRATOR_TABLES,
  ALL_PLATFORM_BUCKETS,
  ALL_PLATFORM_TABLES,
  serviceOwnTables,
  type TableSpec,
} from '../config/data-map';

export interface BootstrapClients {
  dynamo: DynamoDBClient;
  s3: S3Client;
}

export interface BootstrapOptions {
  tables?: TableSpec[];
  buckets?: string[];
}

export interface BootstrapResult {
  createdTables: string[];
  existingTables: string[];
  createdBuckets: string[];
  existingBuckets: string[];
}

function keySchema(partitionKey: string, sortKey?: string): KeySchemaElement[] {
  const schema: KeySchemaElement[] = [{ AttributeName: partitionKey, KeyType: 'HASH' }];
  if (sortKey) schema.push({ AttributeName: sortKey, KeyType: 'RANGE' });
  return schema;
}

/** An index's projection as CreateTable and DescribeTable put it. */
function projectionOf(index: TableSpec['indexes'][number]): Projection {
  return index.projection === 'INCLUDE'
    ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...(index.nonKeyAttributes ?? [])] }
    : { ProjectionType: index.projection ?? 'ALL' };
}

/**
 * CreateTable input for a data-map table: on-demand, each index projecting what the data map says, and the
 * table's stream if the data map names one.
 */
export function createTableInput(spec: TableSpec): CreateTableCommandInput {
  const keyAttributes = new Set<string>([spec.partitionKey]);
  if (spec.sortKey) keyAttributes.add(spec.sortKey);
  for (const index of spec.indexes) {
    keyAttributes.add(index.partitionKey);
    if (index.sortKey) keyAttributes.add(index.sortKey);
  }
  // Every key in the data map is a string (ids, ISO dates, `<date>#<id>` sort keys).
  const attributeDefinitions: AttributeDefinition[] = [...keyAttributes].map((name) => ({
    AttributeName: name,
    AttributeType: 'S',
  }));
  return {
    TableName: spec.tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: attributeDefinitions,
    KeySchema: keySchema(spec.partitionKey, spec.sortKey),
    ...(spec.indexes.length > 0
      ? {
          GlobalSecondaryIndexes: spec.indexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: projectionOf(index),
          })),
        }
      : {}),
    ...(spec.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: spec.stream } } : {}),
  };
}

/** The table's stream settings and index projections, or undefined when there is no such table. */
async function describeStream(
  dynamo: DynamoDBClient,
  tableName: string,
): Promise<{ streamViewType?: string; projections: Map<string, Projection | undefined> } | undefined> {
  try {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    const stream = Table?.StreamSpecification;
    return {
      streamViewType: stream?.StreamEnabled ? stream.StreamViewType : undefined,
      projections: new Map(
        (Table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName ?? '', i.Projection]),
      ),
    };
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/**
 * A data directory made before the data map named a table's stream has the table without it: the
 * stream is turned on (what happened before it is the identifier backfill's to index).
 */
async function ensureStream(dynamo: DynamoDBClient, spec: TableSpec, current: string | undefined) {
  if (!spec.stream || current === spec.stream) return;
  if (current) {
    throw new Error(
      `Table ${spec.tableName} has a ${current} stream where the data map wants ${spec.stream}: reset the local data (npm run reset)`,
    );
  }
  await dynamo.send(
    new UpdateTableCommand({
      TableName: spec.tableName,
      StreamSpecification: { StreamEnabled: true, StreamViewType: spec.stream },
    }),
  );
}

const sameProjection = (a: Projection | undefined, b: Projection) =>
  a?.ProjectionType === b.ProjectionType &&
  [...(a?.NonKeyAttributes ?? [])].sort().join() === [...(b.NonKeyAttributes ?? [])].sort().join();

/** Waits until `check` holds of the table's description (index changes are asynchronous). */
async function untilTable(
  dynamo: DynamoDBClient,
  tableName: string,
  check: (indexes: { IndexName?: string; IndexStatus?: string }[]) => boolean,
): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE' && check(Table.GlobalSecondaryIndexes ?? [])) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Table ${tableName} did not settle its indexes`);
}

/**
 * A data directory made when an index projected something else (the requests table's indexes once copied
 * every attribute) keeps that copy: the index is dropped and built again from the table with the data
 * map's projection. An index of the data map the table lacks is built the same way.
 */
async function ensureProjections(
  dynamo: DynamoDBClient,
  spec: TableSpec,
  current: Map<string, Projection | undefined>,
): Promise<void> {
  const wanted = createTableInput(spec);
  for (const index of wanted.GlobalSecondaryIndexes ?? []) {
    const name = index.IndexName ?? '';
    const projection = index.Projection ?? {};
    if (current.has(name) && sameProjection(current.get(name), projection)) continue;
    if (current.has(name)) {
      await dynamo.send(
        new UpdateTableCommand({
          TableName: spec.tableName,
          GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: name } }],
        }),
      );
      await untilTable(dynamo, spec.tableName, (indexes) => !indexes.some((i) => i.IndexName === name));
    }
    await dynamo.send(
      new UpdateTableCommand({
        TableName: spec.tableName,
        AttributeDefinitions: wanted.AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
    await untilTable(dynamo, spec.tableName, (indexes) =>
      indexes.some((i) => i.IndexName === name && (i.IndexStatus ?? 'ACTIVE') === 'ACTIVE'),
    );
  }
}

async function ensureTable(dynamo: DynamoDBClient, spec: TableSpec): Promise<boolean> {
  let created = false;
  const existing = await describeStream(dynamo, spec.tableName);
  if (existing) {
    await ensureStream(dynamo, spec, existing.streamViewType);
    await ensureProjections(dynamo, spec, existing.projections);
  } else {
    try {
      await dynamo.send(new CreateTableCommand(createTableInput(spec)));
      created = true;
    } catch (error) {
      // Another process created it between our check and our call: that is fine.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  await waitUntilTableExists(
    { client: dynamo, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { TableName: spec.tableName },
  );
  return created;
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return false;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404) throw error;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return true;
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return false;
    throw error;
  }
}

/**
 * Creates every table and bucket of the data map that is missing and waits until the tables are ACTIVE.
 * Versioning is not set: s3rver does not implement it (versioned-bucket behaviour has its own test seam).
 */
export async function bootstrapResources(
  clients: BootstrapClients,
  options: BootstrapOptions = {},
): Promise<BootstrapResult> {
  // The services' own stores (config/data-map.ts serviceStores) are created beside the shared ones.
  const tables = options.tables ?? [
    ...ALL_PLATFORM_TABLES,
    ...serviceOwnTables().map((t) => t.spec),
    ...ALL_ORCHESTRATOR_TABLES,
  ];
  const buckets = options.buckets ?? [...ALL_PLATFORM_BUCKETS, ...ALL_ORCHESTRATOR_BUCKETS];
  const result: BootstrapResult = {
    createdTables: [],
    existingTables: [],
    createdBuckets: [],
    existingBuckets: [],
  };

  const tableOutcomes = await Promise.all(tables.map((spec) => ensureTable(clients.dynamo, spec)));
  tables.forEach((spec, i) =>
    (tableOutcomes[i] ? result.createdTables : result.existingTables).push(spec.tableName),
  );
  const bucketOutcomes = await Promise.all(buckets.map((bucket) => ensureBucket(clients.s3, bucket)));
  buckets.forEach((bucket, i) =>
    (bucketOutcomes[i] ? result.createdBuckets : result.existingBuckets).push(bucket),
  );
  return result;
}
