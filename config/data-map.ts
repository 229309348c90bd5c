/**
 * The data map: the one place that names the platform's stores and the orchestrator's own resources.
 * CDK creates (or, in a deployment that sets `existing`, imports) these; the local stack creates them;
 * Lambdas receive the names through environment variables derived from this map (see `connectorEnv`).
 * Shapes follow ../shared/stores.md and are documented in docs/data-stores.md.
 */

export type StoreName = 'accounts' | 'payments' | 'chat' | 'media' | 'logs' | 'marketing';

export const STORE_NAMES: readonly StoreName[] = [
  'accounts',
  'payments',
  'chat',
  'media',
  'logs',
  'marketing',
];

export interface TableSpec {
  tableName: string;
  partitionKey: string;
  sortKey?: string;
  indexes: {
    indexName: string;
    partitionKey: string;
    sortKey?: string;
    /**
     * What the index copies of each item: every attribute (the default), the keys only, or the keys and
     * `nonKeyAttributes` (INCLUDE). An index is a second copy of what it projects, outside the reach of
     * the item's own clean-up: project only what the index's queries read or filter on.
     */
    projection?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
    /** INCLUDE only: the attributes copied besides the table's and the index's keys. */
    nonKeyAttributes?: readonly string[];
  }[];
  /** The table's DynamoDB stream, where the orchestrator reacts to its writes. */
  stream?: 'NEW_AND_OLD_IMAGES';
  /**
   * The attribute DynamoDB TTL removes items by (seconds since the epoch). CDK turns TTL on with it;
   * DynamoDB Local has no TTL, so the local stack's reaper (local/ttl-reaper.ts) does the same.
   */
  ttlAttribute?: string;
}

/** The TTL attribute of every orchestrator table that has one. */
export const TTL_ATTRIBUTE = 'expiresAt';

export const platformStores = {
  accounts: {
    table: {
      tableName: 'platform-accounts',
      partitionKey: 'userId',
      indexes: [
        { indexName: 'byEmail', partitionKey: 'email' },
        { indexName: 'byPhone', partitionKey: 'phone' },
      ],
      // The identifier index follows it: which device ids and linked accounts each account gained or lost.
      stream: 'NEW_AND_OLD_IMAGES',
    },
  },
  payments: {
    table: { tableName: 'platform-payments', partitionKey: 'userId', sortKey: 'sk', indexes: [] },
  },
  chat: {
    roomsTable: { tableName: 'platform-chat-rooms', partitionKey: 'roomId', indexes: [] },
    messagesTable: {
      tableName: 'platform-chat-messages',
      partitionKey: 'roomId',
      sortKey: 'sk',
      indexes: [{ indexName: 'bySender', partitionKey: 'senderId', sortKey: 'sk' }],
    },
  },
  media: {
    bucketName: 'platform-media',
    versioned: true,
    /** Per-subject prefixes; `{userId}` is replaced by each of the subject's user ids. */
    subjectPrefixes: ['avatars/{userId}/', 'voice/{userId}/', 'uploads/{userId}/', 'behavior/{userId}/'],
    chatAttachmentsPrefix: 'chat-attachments/',
  },
  logs: {
    bucketName: 'platform-logs',
    accessPrefix: 'access/',
    voiceSessionsPrefix: 'voice-sessions/',
  },
  marketing: {
    table: { tableName: 'platform-marketing-events', partitionKey: 'userId', sortKey: 'sk', indexes: [] },
  },
} as const satisfies {
  accounts: { table: TableSpec };
  payments: { table: TableSpec };
  chat: { roomsTable: TableSpec; messagesTable: TableSpec };
  media: {
    bucketName: string;
    versioned: boolean;
    subjectPrefixes: readonly string[];
    chatAttachmentsPrefix: string;
  };
  logs: { bucketName: string; accessPrefix: string; voiceSessionsPrefix: string };
  marketing: { table: TableSpec };
};

/**
 * The environment variables naming the platform's stores: a service that keeps stores of its own names
 * its own value for some of them (`serviceStores` below, ../shared/stores.md "Services").
 */
export type StoreResource =
  | 'accountsTable'
  | 'paymentsTable'
  | 'chatRoomsTable'
  | 'chatMessagesTable'
  | 'mediaBucket'
  | 'logsBucket'
  | 'marketingTable';

/**
 * The stores a service may keep apart from the shared `platform-*` ones. Buckets stay shared in this
 * build: the media bucket is the one assemble-export copies originals from, and the logs bucket is the
 * one the log index covers (docs/log-index.md); a service's own bucket would need both to know it.
 */
export type ServiceOwnResource = Exclude<StoreResource, 'mediaBucket' | 'logsBucket'>;

/**
 * Services that keep stores of their own, by service id (config/services/): each store named here
 * replaces the shared one for that service's subjects, with the same shape (same keys, same indexes,
 * same stream), named `<service>-<store>`. Every store not named stays the shared one. The local stack
 * creates and seeds these; CDK creates (or imports) them and grants each connector exactly these too.
 */
export const serviceStores: Readonly<Record<string, Partial<Record<ServiceOwnResource, string>>>> = {
  // METALIVE keeps its accounts, payments, chat and marketing records apart (docs/services.md).
  metalive: {
    accountsTable: 'metalive-accounts',
    paymentsTable: 'metalive-payments',
    chatRoomsTable: 'metalive-chat-rooms',
    chatMessagesTable: 'metalive-chat-messages',
    marketingTable: 'metalive-marketing-events',
  },
};

/** The shared table spec each table resource of a service's own stores copies (shape, keys, stream). */
export const STORE_TABLE_SPECS: Readonly<Record<ServiceOwnResource, TableSpec>> = {
  accountsTable: platformStores.accounts.table,
  paymentsTable: platformStores.payments.table,
  chatRoomsTable: platformStores.chat.roomsTable,
  chatMessagesTable: platformStores.chat.messagesTable,
  marketingTable: platformStores.marketing.table,
};

/** Every table of the services' own stores, with the shape of the shared table it replaces. */
export function serviceOwnTables(
  stores: Readonly<Record<string, Partial<Record<ServiceOwnResource, string>>>> = serviceStores,
): { service: string; resource: ServiceOwnResource; spec: TableSpec }[] {
  return Object.entries(stores).flatMap(([service, own]) =>
    (Object.entries(own) as [ServiceOwnResource, string][]).map(([resource, tableName]) => ({
      service,
      resource,
      spec: { ...STORE_TABLE_SPECS[resource], tableName },
    })),
  );
}

/**
 * What the requests table's indexes copy besides keys (`pk`, `sk`, `subjectHash`, `kind`, `createdAt`):
 * the filters of the request listing (status, type, service, dueAt; `kind` on bySubject), the ids the
 * work lists hand on (requestId), and the erasure schedule's due date and holds (nextStepAt, heldBy:
 * hold ids). None is personal; test/unit/index-projections.test.ts holds them to that.
 */
export const REQUESTS_INDEX_ATTRIBUTES = {
  bySubject: ['kind', 'requestId', 'type', 'status', 'service', 'dueAt'],
  byKind: ['requestId', 'type', 'status', 'service', 'dueAt', 'nextStepAt', 'heldBy'],
} as const;

/** The orchestrator's own resources, kept apart from the platform's stores. */
export const orchestratorResources = {
  requestsTable: {
    tableName: 'dsr-requests',
    partitionKey: 'pk',
    sortKey: 'sk',
    // Both indexes copy only what their queries filter on and the ids they hand on, never the subject,
    // callback URLs, notice addresses or requester: readers needing a whole item (the request listing,
    // holds, audit entries, queued log parts, notices) fetch it from the table by the keys the index
    // gives (functions/lib/requests/request-table.ts itemsOf). docs/erasure.md lists each query.
    indexes: [
      {
        indexName: 'bySubject',
        partitionKey: 'subjectHash',
        sortKey: 'createdAt',
        projection: 'INCLUDE',
        nonKeyAttributes: REQUESTS_INDEX_ATTRIBUTES.bySubject,
      },
      {
        indexName: 'byKind',
        partitionKey: 'kind',
        sortKey: 'createdAt',
        projection: 'INCLUDE',
        nonKeyAttributes: REQUESTS_INDEX_ATTRIBUTES.byKind,
      },
    ],
    ttlAttribute: TTL_ATTRIBUTE,
  },
  stagingBucket: 'dsr-staging',
  exportsBucket: 'dsr-exports',
  vaultTable: {
    tableName: 'dsr-retention-vault',
    partitionKey: 'pk',
    sortKey: 'sk',
    // The sweep finds what is due: partition `kind` ('vault'), sorted by `until`; keys only, so the
    // index holds no kept data.
    indexes: [{ indexName: 'byUntil', partitionKey: 'kind', sortKey: 'until', projection: 'KEYS_ONLY' }],
  },
  vaultBucket: 'dsr-retention-vault',
  /**
   * Device ids and linked external accounts -> accounts, by keyed hash (functions/lib/identifiers):
   * subject resolution finds them without a Scan of the accounts table, which has no index on them.
   */
  identifierIndexTable: {
    tableName: 'dsr-identifier-index',
    partitionKey: 'identifierHash',
    sortKey: 'accountHash',
    indexes: [],
    ttlAttribute: TTL_ATTRIBUTE,
  },
  /**
   * The subject index of the logs (docs/log-index.md): its watermarks (`w#<prefix>` items); which log
   * objects name which subject (keyed hashes only) is in files, in logIndexBucket.
   */
  logIndexTable: { tableName: 'dsr-log-index', partitionKey: 'pk', sortKey: 'sk', indexes: [] },
  /** The log index's files: an object file per log object version, a day file per closed day. */
  logIndexBucket: 'dsr-log-index',
} as const satisfies {
  requestsTable: TableSpec;
  stagingBucket: string;
  exportsBucket: string;
  vaultTable: TableSpec;
  vaultBucket: string;
  identifierIndexTable: TableSpec;
  logIndexTable: TableSpec;
  logIndexBucket: string;
};

/** Export archives (functions/assemble-export/core.ts archiveKey) and certificates (certificateKey). */
export const ARCHIVES_PREFIX = 'exports/';
export const CERTIFICATES_PREFIX = 'certificates/';
/** Staging is deleted by each workflow; its lifecycle rule is only the backstop for a failed clean-up. */
export const STAGING_EXPIRY_DAYS = 2;

/** One expiry rule of a bucket: objects under `prefix` (every object without one) go `days` after written. */
export interface ExpiryRule {
  id: string;
  prefix?: string;
  days: number;
}

/** The periods the expiry rules depend on (deployment configuration; locally the environment). */
export interface RetentionPeriods {
  exportRetentionDays: number;
  auditPeriodDays: number;
}

/**
 * The expiry rules of the orchestrator's buckets, by bucket: CDK makes them lifecycle rules and the
 * local stack's reaper applies them to the local S3. Archives go after the export retention;
 * certificates are the erasure's proof and stay for the audit period (one rule per prefix: a rule
 * without one would expire certificates with archives). The vault bucket has none: the sweep destroys
 * each kept record at its own date.
 */
export function orchestratorBucketExpiry(periods: RetentionPeriods): Record<string, ExpiryRule[]> {
  return {
    [orchestratorResources.stagingBucket]: [{ id: 'staging-backstop', days: STAGING_EXPIRY_DAYS }],
    [orchestratorResources.exportsBucket]: [
      { id: 'expire-archives', prefix: ARCHIVES_PREFIX, days: periods.exportRetentionDays },
      { id: 'expire-certificates', prefix: CERTIFICATES_PREFIX, days: periods.auditPeriodDays },
    ],
  };
}

export const ALL_PLATFORM_TABLES: TableSpec[] = [
  platformStores.accounts.table,
  platformStores.payments.table,
  platformStores.chat.roomsTable,
  platformStores.chat.messagesTable,
  platformStores.marketing.table,
];

export const ALL_ORCHESTRATOR_TABLES: TableSpec[] = [
  orchestratorResources.requestsTable,
  orchestratorResources.vaultTable,
  orchestratorResources.identifierIndexTable,
  orchestratorResources.logIndexTable,
];

export const ALL_PLATFORM_BUCKETS: string[] = [
  platformStores.media.bucketName,
  platformStores.logs.bucketName,
];
export const ALL_ORCHESTRATOR_BUCKETS: string[] = [
  orchestratorResources.stagingBucket,
  orchestratorResources.exportsBucket,
  orchestratorResources.vaultBucket,
  orchestratorResources.logIndexBucket,
];

/** Environment variable names each resource is passed to Lambdas under. */
export const ENV = {
  accountsTable: 'ACCOUNTS_TABLE',
  paymentsTable: 'PAYMENTS_TABLE',
  chatRoomsTable: 'CHAT_ROOMS_TABLE',
  chatMessagesTable: 'CHAT_MESSAGES_TABLE',
  mediaBucket: 'MEDIA_BUCKET',
  logsBucket: 'LOGS_BUCKET',
  marketingTable: 'MARKETING_TABLE',
  requestsTable: 'REQUESTS_TABLE',
  stagingBucket: 'STAGING_BUCKET',
  exportsBucket: 'EXPORTS_BUCKET',
  vaultTable: 'VAULT_TABLE',
  vaultBucket: 'VAULT_BUCKET',
  identifierIndexTable: 'IDENTIFIER_INDEX_TABLE',
  logIndexTable: 'LOG_INDEX_TABLE',
  logIndexBucket: 'LOG_INDEX_BUCKET',
  /** JSON: service id -> { store env name -> its own table } (serviceStoresEnv). */
  serviceStores: 'SERVICE_STORES',
} as const;

/**
 * The value of ENV.serviceStores: each service's own stores under the environment variable names the
 * shared ones go by (`{"metalive": {"ACCOUNTS_TABLE": "metalive-accounts", ...}}`).
 */
export function serviceStoresEnv(
  stores: Readonly<Record<string, Partial<Record<ServiceOwnResource, string>>>> = serviceStores,
): string {
  return JSON.stringify(
    Object.fromEntries(
      Object.entries(stores).map(([service, own]) => [
        service,
        Object.fromEntries(
          (Object.entries(own) as [ServiceOwnResource, string][]).map(([resource, name]) => [
            ENV[resource],
            name,
          ]),
        ),
      ]),
    ),
  );
}

/** Default name -> value map of every resource variable (the local stack and CDK both start from it). */
export function defaultResourceEnv(): Record<string, string> {
  return {
    [ENV.accountsTable]: platformStores.accounts.table.tableName,
    [ENV.paymentsTable]: platformStores.payments.table.tableName,
    [ENV.chatRoomsTable]: platformStores.chat.roomsTable.tableName,
    [ENV.chatMessagesTable]: platformStores.chat.messagesTable.tableName,
    [ENV.mediaBucket]: platformStores.media.bucketName,
    [ENV.logsBucket]: platformStores.logs.bucketName,
    [ENV.marketingTable]: platformStores.marketing.table.tableName,
    [ENV.requestsTable]: orchestratorResources.requestsTable.tableName,
    [ENV.stagingBucket]: orchestratorResources.stagingBucket,
    [ENV.exportsBucket]: orchestratorResources.exportsBucket,
    [ENV.vaultTable]: orchestratorResources.vaultTable.tableName,
    [ENV.vaultBucket]: orchestratorResources.vaultBucket,
    [ENV.identifierIndexTable]: orchestratorResources.identifierIndexTable.tableName,
    [ENV.logIndexTable]: orchestratorResources.logIndexTable.tableName,
    [ENV.logIndexBucket]: orchestratorResources.logIndexBucket,
    [ENV.serviceStores]: serviceStoresEnv(),
  };
}
