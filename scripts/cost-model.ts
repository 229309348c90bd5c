/**
 * The cost model (docs/cost.md): AWS list prices, us-east-1, in one place, and what operation counts
 * measured on the local stack (local/op-counts.ts) cost at those prices. The benchmarks print their
 * figures through here; docs/cost.md quotes the same numbers.
 */
import type { OperationCounts } from '../local/op-counts';

/** When the prices below were taken from the pages in PRICE_SOURCES. */
export const PRICES_AS_OF = '2026-12-02';

export const PRICE_SOURCES = {
  stepFunctions: 'https://aws.amazon.com/step-functions/pricing/',
  lambda: 'https://aws.amazon.com/lambda/pricing/',
  s3: 'https://aws.amazon.com/s3/pricing/',
  dynamodb: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  fargate: 'https://aws.amazon.com/fargate/pricing/',
  lambdaCpu: 'https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html',
  s3FindAndForget: 'https://github.com/awslabs/amazon-s3-find-and-forget/blob/master/docs/COST_OVERVIEW.md',
} as const;

/** US dollars, us-east-1, on-demand list prices without free tiers. */
export const PRICES = {
  /** Step Functions Standard: $0.025 per 1,000 state transitions (Distributed Map children run STANDARD). */
  standardTransition: 0.025 / 1000,
  /** Lambda on arm64: $0.0000133334 per GB-second (first 7.5 billion GB-s a month)... */
  lambdaArmGbSecond: 0.0000133334,
  /** ...and $0.20 per million requests. */
  lambdaRequest: 0.2 / 1_000_000,
  /** S3 Standard: PUT, COPY, POST, LIST $0.005 per 1,000 requests. */
  s3Write: 0.005 / 1000,
  /** S3 Standard: GET, SELECT and every other request $0.0004 per 1,000 (DELETE is free). */
  s3Read: 0.0004 / 1000,
  /** DynamoDB on-demand, Standard table class: $0.625 per million write request units. */
  dynamoWriteUnit: 0.625 / 1_000_000,
  /** DynamoDB on-demand, Standard table class: $0.125 per million read request units. */
  dynamoReadUnit: 0.125 / 1_000_000,
  /** Fargate, Linux x86: per vCPU-hour and per GB-hour (for S3 Find and Forget's figure). */
  fargateVcpuHour: 0.04048,
  fargateGbHour: 0.004445,
} as const;

/** S3 Find and Forget's published figure for gzip JSON: $5.89 per 100 GB (50 Fargate tasks x 22 min). */
export const S3_FIND_AND_FORGET_PER_GB = 5.89 / 100;
/** The target for our log rewrite: one fifth of S3 Find and Forget's. */
export const REWRITE_TARGET_PER_GB = 0.012;

/**
 * Lambda memory (MB) of each local function as deployed (infra/constructs/task-functions.ts and
 * connectors.ts); every function is arm64. Functions not listed get the default.
 */
const FUNCTION_MEMORY_MB: Record<string, number> = {
  'dsr-assemble-export': 1024,
  'dsr-index-logs': 2048,
  'dsr-erase-logs': 2048,
};
const CONNECTOR_MEMORY_MB = 1024;
const DEFAULT_MEMORY_MB = 512;

export function memoryOf(functionName: string): number {
  if (FUNCTION_MEMORY_MB[functionName] !== undefined) return FUNCTION_MEMORY_MB[functionName];
  return functionName.startsWith('dsr-connector-') ? CONNECTOR_MEMORY_MB : DEFAULT_MEMORY_MB;
}

/** Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB (PRICE_SOURCES.lambdaCpu). */
export const LAMBDA_MB_PER_VCPU = 1769;

/**
 * How long CPU-bound work of `cpuMs` (one core's time) runs on a Lambda of `memoryMb`: less memory, less
 * CPU, longer; so its GB-seconds are `cpuMs` x 1.769 GB whatever the memory (up to 1,769 MB; above it,
 * as long as the work keeps the extra CPU busy, as zlib's threads do for several objects at once).
 */
export function cpuBoundMs(cpuMs: number, memoryMb: number): number {
  return (cpuMs * LAMBDA_MB_PER_VCPU) / memoryMb;
}

/** S3 operations billed at the PUT, COPY, POST, LIST rate; DELETE is free; the rest at the GET rate. */
const S3_WRITE_OPERATIONS = new Set([
  'PutObject',
  'CopyObject',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
  'ListObjectsV2',
  'ListObjects',
  'ListObjectVersions',
  'ListMultipartUploads',
]);
const S3_FREE_OPERATIONS = new Set(['DeleteObject', 'DeleteObjects', 'AbortMultipartUpload']);

export interface CostBreakdown {
  stepFunctions: number;
  lambda: number;
  s3: number;
  dynamodb: number;
  total: number;
  /** What it is made of, for the printout. */
  transitions: number;
  gbSeconds: number;
  invocations: number;
  s3Writes: number;
  s3Reads: number;
  readUnits: number;
  writeUnits: number;
}

/**
 * What `counts` cost at list prices. Function time is what the local stack measured per task (wall time
 * on a shared machine: an upper bound for the same code on its own Lambda), rounded up to the
 * millisecond per invocation as Lambda bills.
 */
export function costOf(counts: OperationCounts): CostBreakdown {
  const transitions = Object.values(counts.transitions).reduce((sum, n) => sum + n, 0);
  let gbSeconds = 0;
  let invocations = 0;
  for (const [name, { invocations: n, ms }] of Object.entries(counts.functions)) {
    gbSeconds += (Math.ceil(ms) / 1000) * (memoryOf(name) / 1024);
    invocations += n;
  }
  let s3Writes = 0;
  let s3Reads = 0;
  for (const [operation, n] of Object.entries(counts.requests)) {
    if (!operation.startsWith('S3.')) continue;
    const name = operation.slice(3);
    if (S3_WRITE_OPERATIONS.has(name)) s3Writes += n;
    else if (!S3_FREE_OPERATIONS.has(name)) s3Reads += n;
  }
  const stepFunctions = transitions * PRICES.standardTransition;
  const lambda = gbSeconds * PRICES.lambdaArmGbSecond + invocations * PRICES.lambdaRequest;
  const s3 = s3Writes * PRICES.s3Write + s3Reads * PRICES.s3Read;
  const dynamodb = counts.readUnits * PRICES.dynamoReadUnit + counts.writeUnits * PRICES.dynamoWriteUnit;
  return {
    stepFunctions,
    lambda,
    s3,
    dynamodb,
    total: stepFunctions + lambda + s3 + dynamodb,
    transitions,
    gbSeconds,
    invocations,
    s3Writes,
    s3Reads,
    readUnits: counts.readUnits,
    writeUnits: counts.writeUnits,
  };
}

/** Dollars with enough digits for fractions of a cent. */
export function dollars(value: number): string {
  return value >= 0.01 ? `$${value.toFixed(4)}` : `$${value.toPrecision(3)}`;
}

/** One printed line: the total and its parts. */
export function describeCost(label: string, cost: CostBreakdown): string {
  return (
    `${label}: ${dollars(cost.total)} = Step Functions ${dollars(cost.stepFunctions)} (${cost.transitions} transitions)` +
    ` + Lambda ${dollars(cost.lambda)} (${cost.gbSeconds.toFixed(2)} GB-s, ${cost.invocations} invocations)` +
    ` + S3 ${dollars(cost.s3)} (${cost.s3Writes} PUT/LIST, ${cost.s3Reads} GET)` +
    ` + DynamoDB ${dollars(cost.dynamodb)} (${cost.readUnits.toFixed(1)} RRU, ${cost.writeUnits.toFixed(1)} WRU)`
  );
}

/** Scales a cost to a unit (per GB, say): every part divided by `by`. */
export function perUnit(cost: CostBreakdown, by: number): CostBreakdown {
  const scaled = { ...cost };
  for (const key of Object.keys(scaled) as (keyof CostBreakdown)[]) scaled[key] = cost[key] / by;
  return scaled;
}
