/**
 * Deployment settings, read once from CDK context (cdk.json or `-c key=value`) and validated, so a typo
 * fails the synth with the key's name instead of deploying something else.
 */
import type { Node } from 'constructs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DEFAULT_DEADLINE_CONFIG } from '../functions/lib/requests/deadlines';
import { ROLES, type Role } from '../functions/api/auth';
import { serviceIds } from '../functions/lib/services/profiles';
import { DEFAULT_AUDIT_PERIOD_DAYS } from '../functions/lib/requests/request-table';

/** The platform resources a deployment may import instead of creating. */
export const PLATFORM_RESOURCE_IDS = [
  'accountsTable',
  'paymentsTable',
  'chatRoomsTable',
  'chatMessagesTable',
  'mediaBucket',
  'logsBucket',
  'marketingTable',
] as const;
export type PlatformResourceId = (typeof PLATFORM_RESOURCE_IDS)[number];

export interface ExistingResource {
  /** Physical name; defaults to the data map's name. */
  name?: string;
  /** ARN of the customer managed KMS key the resource is encrypted with, if any (connectors get decrypt on it). */
  kmsKeyArn?: string;
  /**
   * accountsTable only, and required there: the ARN of its DynamoDB stream (NEW_AND_OLD_IMAGES), which
   * keeps the identifier index current.
   */
  streamArn?: string;
}

export interface ApiClientConfig {
  role: Role;
  services: string[];
}

export interface DsrDeploymentConfig {
  /** `create` (default, a demo deployment) or `import` the platform's existing tables and buckets by name. */
  platformStores: 'create' | 'import';
  /** Per-resource names and keys used when importing. */
  existing: Partial<Record<PlatformResourceId, ExistingResource>>;
  /** Days an export archive is kept before the exports bucket's lifecycle removes it. */
  exportRetentionDays: number;
  /**
   * Days finished requests, their audit trail and erasure certificates are kept: the audit period.
   * Request items expire by TTL then (their raw identifiers go when they finish).
   */
  auditPeriodDays: number;
  /** Retention of every log group (Lambda, state machine, API access logs). */
  logRetention: RetentionDays;
  /** X-Ray active tracing on functions and the state machine. */
  tracing: boolean;
  /** Cognito hosted domain prefix for the token endpoint; defaults to `dsr-<account id>`. */
  cognitoDomainPrefix?: string;
  /**
   * The API's app clients by name: each has one role and is bound to some services (its token carries
   * `dsr/<role>` and `dsr/service:<id>` per service). Default: one client per role, bound to every service.
   */
  apiClients: Record<string, ApiClientConfig>;
  /** Public base URL of the API (a custom domain) for download links; defaults to the HTTP API endpoint. */
  publicApiUrl?: string;
  /** Default stage throttling of the HTTP API. */
  apiThrottle: { rateLimit: number; burstLimit: number };
  /** Where alarm notifications go (an email subscription on the alarm topic), if anywhere. */
  alarmEmail?: string;
  /**
   * The domain OpenDSR responses and callbacks name in X-OpenDSR-Processor-Domain; defaults to the host of
   * `publicApiUrl`, else of the HTTP API endpoint.
   */
  processorDomain?: string;
  /** Jurisdiction of a request when neither the caller nor the account names one. */
  defaultJurisdiction: string;
  /** Statutory deadlines in days (functions/lib/requests/deadlines.ts): APPI, and any other jurisdiction. */
  deadlines: { appiDays: number; defaultDays: number };
  /** Processor id -> https webhook URL that erasures are announced to (notify-processors). */
  processorWebhooks: Record<string, string>;
  /** The From address of download-link emails (NOTIFY_FROM_ADDRESS): an address of a verified SES identity. */
  notifyFromAddress: string;
  /** That SES identity (the address itself, or its domain); defaults to the address's domain. */
  sesIdentity: string;
  /** The subject index of the logs (docs/log-index.md). */
  logIndex: {
    /** Minutes between scheduled runs that index what is after the watermark and move it. */
    scheduleMinutes: number;
    /** Days (UTC, today included) whose partitions may still receive objects: the watermark waits. */
    openDays: number;
    /**
     * Index each new log object from its S3 "Object Created" event (EventBridge). Default: on when the
     * stack creates the logs bucket; for an imported bucket only if its owner has turned on EventBridge
     * delivery for it, else the schedule alone keeps the index current.
     */
    bucketEvents: boolean;
  };
  /**
   * When the batched log-erasure job runs (docs/erasure.md): an EventBridge schedule expression,
   * `rate(...)` or `cron(...)`; default once a day. Erasures wait for it to have their log lines removed.
   */
  logErasureSchedule: string;
}

export const CONTEXT_KEYS = {
  platformStores: 'dsr:platformStores',
  existing: 'dsr:existing',
  exportRetentionDays: 'dsr:exportRetentionDays',
  auditPeriodDays: 'dsr:auditPeriodDays',
  logRetentionDays: 'dsr:logRetentionDays',
  tracing: 'dsr:tracing',
  cognitoDomainPrefix: 'dsr:cognitoDomainPrefix',
  apiClients: 'dsr:apiClients',
  publicApiUrl: 'dsr:publicApiUrl',
  apiRateLimit: 'dsr:apiRateLimit',
  apiBurstLimit: 'dsr:apiBurstLimit',
  alarmEmail: 'dsr:alarmEmail',
  processorDomain: 'dsr:processorDomain',
  defaultJurisdiction: 'dsr:defaultJurisdiction',
  appiDeadlineDays: 'dsr:appiDeadlineDays',
  defaultDeadlineDays: 'dsr:defaultDeadlineDays',
  processorWebhooks: 'dsr:processorWebhooks',
  notifyFromAddress: 'dsr:notifyFromAddress',
  sesIdentity: 'dsr:sesIdentity',
  logIndexMinutes: 'dsr:logIndexMinutes',
  logIndexOpenDays: 'dsr:logIndexOpenDays',
  logsBucketEvents: 'dsr:logsBucketEvents',
  logErasureSchedule: 'dsr:logErasureSchedule',
} as const;

export const DEFAULT_CONFIG: Omit<
  DsrDeploymentConfig,
  'notifyFromAddress' | 'sesIdentity' | 'logIndex' | 'apiClients'
> & {
  logIndex: Omit<DsrDeploymentConfig['logIndex'], 'bucketEvents'>;
} = {
  platformStores: 'create',
  existing: {},
  exportRetentionDays: 30,
  auditPeriodDays: DEFAULT_AUDIT_PERIOD_DAYS,
  logRetention: RetentionDays.THREE_MONTHS,
  tracing: true,
  apiThrottle: { rateLimit: 50, burstLimit: 100 },
  // The API's own default (functions/api/request-settings.ts; the stack test checks they agree): the
  // shortest deadline known (Korea), so a request is never late by default.
  defaultJurisdiction: 'KR',
  deadlines: { ...DEFAULT_DEADLINE_CONFIG },
  processorWebhooks: {},
  logIndex: { scheduleMinutes: 15, openDays: 2 },
  logErasureSchedule: 'rate(1 day)',
};

export class ConfigContextError extends Error {
  override name = 'ConfigContextError';
}

type ContextReader = Pick<Node, 'tryGetContext'>;

/** Context from the command line arrives as strings; from cdk.json as JSON values. */
function raw(node: ContextReader, key: string): unknown {
  const value: unknown = node.tryGetContext(key);
  return value === '' ? undefined : value;
}

function positiveInt(node: ContextReader, key: string, fallback: number): number {
  const value = raw(node, key);
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new ConfigContextError(`Context ${key} must be a positive whole number`);
  return n;
}

function bool(node: ContextReader, key: string, fallback: boolean): boolean {
  const value = raw(node, key);
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigContextError(`Context ${key} must be true or false`);
}

function optionalString(node: ContextReader, key: string): string | undefined {
  const value = raw(node, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ConfigContextError(`Context ${key} must be a string`);
  return value;
}

function scheduleExpression(node: ContextReader, key: string, fallback: string): string {
  const value = optionalString(node, key) ?? fallback;
  if (!/^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$/.test(value)) {
    throw new ConfigContextError(`Context ${key} must be an EventBridge rate(...) or cron(...) expression`);
  }
  return value;
}

function httpsUrl(node: ContextReader, key: string): string | undefined {
  const value = optionalString(node, key);
  if (value !== undefined && !/^https:\/\/[^\s/]+(\/[^\s]*)?$/.test(value)) {
    throw new ConfigContextError(`Context ${key} must be an https:// URL`);
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON object given in cdk.json (a value) or with -c (a string). */
function jsonObject(node: ContextReader, key: string): Record<string, unknown> | undefined {
  let value = raw(node, key);
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      throw new ConfigContextError(`Context ${key} must be a JSON object`);
    }
  }
  if (!isRecord(value)) throw new ConfigContextError(`Context ${key} must be a JSON object`);
  return value;
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

function hostname(node: ContextReader, key: string): string | undefined {
  const value = optionalString(node, key);
  if (value !== undefined && !HOSTNAME.test(value))
    throw new ConfigContextError(`Context ${key} must be a lower-case domain name, e.g. dsr.example.com`);
  return value;
}

function jurisdiction(node: ContextReader, key: string, fallback: string): string {
  const value = optionalString(node, key) ?? fallback;
  // The API's own check (an ISO 3166 country, optionally a subdivision: US-CA).
  if (!/^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/.test(value))
    throw new ConfigContextError(`Context ${key} must be a country code such as KR, DE or US-CA`);
  return value;
}

const EMAIL =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+)$/;

/** Required: without a sender the notify task could not load, and with it download links would not be issued. */
function notifySender(node: ContextReader): { notifyFromAddress: string; sesIdentity: string } {
  const address = optionalString(node, CONTEXT_KEYS.notifyFromAddress);
  const match = address === undefined ? null : EMAIL.exec(address);
  if (!address || !match?.[1]) {
    throw new ConfigContextError(
      `Context ${CONTEXT_KEYS.notifyFromAddress} must be the email address download links are sent from ` +
        '(an address of a verified SES identity, e.g. privacy@example.com)',
    );
  }
  const identity = optionalString(node, CONTEXT_KEYS.sesIdentity) ?? match[1];
  const domain = match[1];
  // SES lets a verified domain send for its subdomains too.
  if (identity !== address && identity !== domain && !domain.endsWith(`.${identity}`))
    throw new ConfigContextError(
      `Context ${CONTEXT_KEYS.sesIdentity} must be ${CONTEXT_KEYS.notifyFromAddress} itself or its domain`,
    );
  return { notifyFromAddress: address, sesIdentity: identity };
}

/** One client per role bound to every service: what a deployment gets when it names no clients. */
export function defaultApiClients(): Record<string, ApiClientConfig> {
  return Object.fromEntries(ROLES.map((role) => [role, { role, services: serviceIds() }]));
}

function parseApiClients(node: ContextReader): Record<string, ApiClientConfig> {
  const key = CONTEXT_KEYS.apiClients;
  const value = jsonObject(node, key);
  if (value === undefined) return defaultApiClients();
  const clients: Record<string, ApiClientConfig> = {};
  const known = serviceIds();
  for (const [name, entry] of Object.entries(value)) {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(name))
      throw new ConfigContextError(`Context ${key} has an invalid client name (a-z, 0-9, -)`);
    if (!isRecord(entry) || !(ROLES as readonly unknown[]).includes(entry.role))
      throw new ConfigContextError(`Context ${key}.${name}.role must be one of ${ROLES.join(', ')}`);
    const services = entry.services;
    if (
      !Array.isArray(services) ||
      services.length === 0 ||
      !services.every((s): s is string => typeof s === 'string' && known.includes(s))
    ) {
      throw new ConfigContextError(
        `Context ${key}.${name}.services must name one or more of ${known.join(', ')}`,
      );
    }
    clients[name] = { role: entry.role as Role, services: [...new Set(services)] };
  }
  if (Object.keys(clients).length === 0) throw new ConfigContextError(`Context ${key} names no client`);
  return clients;
}

function parseWebhooks(node: ContextReader): Record<string, string> {
  const value = jsonObject(node, CONTEXT_KEYS.processorWebhooks);
  if (value === undefined) return {};
  const webhooks: Record<string, string> = {};
  for (const [id, url] of Object.entries(value)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id))
      throw new ConfigContextError(`Context ${CONTEXT_KEYS.processorWebhooks} has an invalid processor id`);
    // Processors are reached over the internet with signed bodies: TLS only (the function refuses the rest).
    if (typeof url !== 'string' || !/^https:\/\/[^\s/]+(\/[^\s]*)?$/.test(url))
      throw new ConfigContextError(`Context ${CONTEXT_KEYS.processorWebhooks}.${id} must be an https:// URL`);
    webhooks[id] = url;
  }
  return webhooks;
}

function parseExisting(node: ContextReader): DsrDeploymentConfig['existing'] {
  const value = jsonObject(node, CONTEXT_KEYS.existing);
  if (value === undefined) return {};
  const existing: DsrDeploymentConfig['existing'] = {};
  for (const [id, entry] of Object.entries(value)) {
    if (!(PLATFORM_RESOURCE_IDS as readonly string[]).includes(id)) {
      throw new ConfigContextError(
        `Context ${CONTEXT_KEYS.existing} has unknown resource ${id}; known: ${PLATFORM_RESOURCE_IDS.join(', ')}`,
      );
    }
    if (!isRecord(entry))
      throw new ConfigContextError(`Context ${CONTEXT_KEYS.existing}.${id} must be an object`);
    const { name, kmsKeyArn, streamArn } = entry;
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      throw new ConfigContextError(`Context ${CONTEXT_KEYS.existing}.${id}.name must be a non-empty string`);
    }
    if (kmsKeyArn !== undefined && (typeof kmsKeyArn !== 'string' || !kmsKeyArn.startsWith('arn:'))) {
      throw new ConfigContextError(`Context ${CONTEXT_KEYS.existing}.${id}.kmsKeyArn must be a KMS key ARN`);
    }
    if (streamArn !== undefined && id !== 'accountsTable') {
      throw new ConfigContextError(
        `Context ${CONTEXT_KEYS.existing}.${id}.streamArn is read for accountsTable only`,
      );
    }
    if (streamArn !== undefined && (typeof streamArn !== 'string' || !STREAM_ARN.test(streamArn))) {
      throw new ConfigContextError(
        `Context ${CONTEXT_KEYS.existing}.${id}.streamArn must be a DynamoDB stream ARN (arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>)`,
      );
    }
    existing[id as PlatformResourceId] = { name, kmsKeyArn, ...(streamArn ? { streamArn } : {}) };
  }
  return existing;
}

const STREAM_ARN = /^arn:[a-z-]+:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]+\/stream\/\S+$/;

const RETENTION_VALUES = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'),
);

export function readDeploymentConfig(node: ContextReader): DsrDeploymentConfig {
  const mode = raw(node, CONTEXT_KEYS.platformStores) ?? DEFAULT_CONFIG.platformStores;
  if (mode !== 'create' && mode !== 'import') {
    throw new ConfigContextError(`Context ${CONTEXT_KEYS.platformStores} must be "create" or "import"`);
  }
  const existing = parseExisting(node);
  if (mode === 'create' && Object.keys(existing).length > 0) {
    throw new ConfigContextError(
      `Context ${CONTEXT_KEYS.existing} is only used with ${CONTEXT_KEYS.platformStores}=import`,
    );
  }
  // Without the stream, device ids and linked accounts added after the backfill would resolve to nobody.
  if (mode === 'import' && !existing.accountsTable?.streamArn) {
    throw new ConfigContextError(
      `Context ${CONTEXT_KEYS.existing}.accountsTable.streamArn is required with ${CONTEXT_KEYS.platformStores}=import: ` +
        'the ARN of the accounts table stream (NEW_AND_OLD_IMAGES) that keeps the identifier index current',
    );
  }
  const logRetentionDays = positiveInt(node, CONTEXT_KEYS.logRetentionDays, DEFAULT_CONFIG.logRetention);
  if (!RETENTION_VALUES.has(logRetentionDays)) {
    throw new ConfigContextError(
      `Context ${CONTEXT_KEYS.logRetentionDays} must be one of CloudWatch's retention periods (e.g. 30, 90, 365)`,
    );
  }
  return {
    platformStores: mode,
    existing,
    exportRetentionDays: positiveInt(
      node,
      CONTEXT_KEYS.exportRetentionDays,
      DEFAULT_CONFIG.exportRetentionDays,
    ),
    auditPeriodDays: positiveInt(node, CONTEXT_KEYS.auditPeriodDays, DEFAULT_CONFIG.auditPeriodDays),
    logRetention: logRetentionDays as RetentionDays,
    tracing: bool(node, CONTEXT_KEYS.tracing, DEFAULT_CONFIG.tracing),
    cognitoDomainPrefix: optionalString(node, CONTEXT_KEYS.cognitoDomainPrefix),
    apiClients: parseApiClients(node),
    publicApiUrl: httpsUrl(node, CONTEXT_KEYS.publicApiUrl),
    apiThrottle: {
      rateLimit: positiveInt(node, CONTEXT_KEYS.apiRateLimit, DEFAULT_CONFIG.apiThrottle.rateLimit),
      burstLimit: positiveInt(node, CONTEXT_KEYS.apiBurstLimit, DEFAULT_CONFIG.apiThrottle.burstLimit),
    },
    alarmEmail: optionalString(node, CONTEXT_KEYS.alarmEmail),
    processorDomain: hostname(node, CONTEXT_KEYS.processorDomain),
    defaultJurisdiction: jurisdiction(
      node,
      CONTEXT_KEYS.defaultJurisdiction,
      DEFAULT_CONFIG.defaultJurisdiction,
    ),
    deadlines: {
      appiDays: positiveInt(node, CONTEXT_KEYS.appiDeadlineDays, DEFAULT_CONFIG.deadlines.appiDays),
      defaultDays: positiveInt(node, CONTEXT_KEYS.defaultDeadlineDays, DEFAULT_CONFIG.deadlines.defaultDays),
    },
    processorWebhooks: parseWebhooks(node),
    ...notifySender(node),
    logIndex: {
      scheduleMinutes: positiveInt(
        node,
        CONTEXT_KEYS.logIndexMinutes,
        DEFAULT_CONFIG.logIndex.scheduleMinutes,
      ),
      openDays: positiveInt(node, CONTEXT_KEYS.logIndexOpenDays, DEFAULT_CONFIG.logIndex.openDays),
      bucketEvents: bool(node, CONTEXT_KEYS.logsBucketEvents, mode === 'create'),
    },
    logErasureSchedule: scheduleExpression(
      node,
      CONTEXT_KEYS.logErasureSchedule,
      DEFAULT_CONFIG.logErasureSchedule,
    ),
  };
}
