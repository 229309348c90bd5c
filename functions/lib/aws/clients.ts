/**
 * SDK clients, created once per module and injectable, their calls traced in Lambda. Endpoints come
 * from the SDK's own service-specific variables (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3, ...),
 * which the local stack sets; in AWS they are unset and the SDK uses the regional endpoints.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { traced } from '../runtime/tracing';

let dynamo: DynamoDBDocumentClient | undefined;
let s3: S3Client | undefined;
let kms: KMSClient | undefined;
let stepFunctions: SFNClient | undefined;

/**
 * Takes out the SDK's logger middleware. We give the SDK no logger, yet that middleware still builds a
 * redacted copy of every response for it (walking each item of each Query page: a tenth of a
 * connector's CPU), and it is the one place the SDK would log data, which we never want anyway.
 */
export function withoutSdkLogging<T extends { middlewareStack: { remove(name: string): boolean } }>(
  client: T,
): T {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

/**
 * A bound on each store call when SDK_REQUEST_TIMEOUT_MS is set: a call that hangs (a half-open
 * connection, a store that stopped answering) then fails as a TimeoutError, which the SDK retries and
 * classifyAwsError calls transient, instead of holding the task until its own timeout.
 */
export function requestTimeoutConfig(): {
  requestHandler?: { requestTimeout: number; throwOnRequestTimeout: true };
} {
  const ms = Number(process.env.SDK_REQUEST_TIMEOUT_MS ?? '');
  return Number.isInteger(ms) && ms > 0
    ? { requestHandler: { requestTimeout: ms, throwOnRequestTimeout: true } }
    : {};
}

export function documentClient(): DynamoDBDocumentClient {
  dynamo ??= DynamoDBDocumentClient.from(
    traced(withoutSdkLogging(new DynamoDBClient(requestTimeoutConfig()))),
    {
      marshallOptions: { removeUndefinedValues: true },
    },
  );
  return dynamo;
}

export function s3Client(): S3Client {
  const local = Boolean(process.env.AWS_ENDPOINT_URL_S3);
  // s3rver (local) understands only path-style addressing and plain (not aws-chunked) bodies.
  s3 ??= traced(
    withoutSdkLogging(
      new S3Client({
        ...requestTimeoutConfig(),
        ...(local
          ? {
              forcePathStyle: true,
              requestChecksumCalculation: 'WHEN_REQUIRED',
              responseChecksumValidation: 'WHEN_REQUIRED',
            }
          : {}),
      }),
    ),
  );
  return s3;
}

export function kmsClient(): KMSClient {
  kms ??= traced(new KMSClient({}));
  return kms;
}

export function stepFunctionsClient(): SFNClient {
  stepFunctions ??= traced(new SFNClient({}));
  return stepFunctions;
}
