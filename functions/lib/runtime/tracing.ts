/**
 * X-Ray tracing with Powertools Tracer: a segment per invocation (`lambdaTracing()`) and a subsegment
 * per AWS SDK call of every client passed through `traced()`. Outside Lambda (tests, the local stack:
 * no AWS_EXECUTION_ENV) the Tracer turns itself off and returns clients untouched, so nothing looks
 * for an X-Ray daemon.
 *
 * Traces carry no personal data. Object keys and prefixes name people (`avatars/{userId}/`), and the
 * X-Ray SDK records them by default: a subsegment here records only the operation and the bucket,
 * table or index it addressed (and, when the call fails, the service's own error message). Outgoing
 * HTTP calls (webhook and callback URLs are the requesters') are not traced, nor are handler
 * responses; POWERTOOLS_TRACER_CAPTURE_ERROR=false (set by the stack) keeps our errors' messages and
 * stacks out too.
 */
// First: it decides how the X-Ray SDK loads.
import './xray-mode';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type middy from '@middy/core';
import { setAWSWhitelist } from 'aws-xray-sdk-core';
import { serviceName } from './service';

const tracer = new Tracer({ serviceName: serviceName(), captureHTTPsRequests: false });

const bucketOnly = { request_descriptors: { Bucket: { rename_to: 'bucket_name' } } };
const tableOnly = { request_parameters: ['TableName', 'IndexName'] };
const S3_CALLS = [
  'getObject',
  'putObject',
  'headObject',
  'deleteObjects',
  'listObjectsV2',
  'listObjectVersions',
  'createMultipartUpload',
  'uploadPart',
  'completeMultipartUpload',
  'abortMultipartUpload',
];
const DYNAMODB_CALLS = ['getItem', 'putItem', 'updateItem', 'deleteItem', 'query', 'scan'];

if (tracer.isTracingEnabled()) {
  // Replaces the SDK's default list, which records object keys and prefixes; calls not listed record
  // their operation only.
  setAWSWhitelist({
    services: {
      s3: { operations: Object.fromEntries(S3_CALLS.map((call) => [call, bucketOnly])) },
      dynamodb: { operations: Object.fromEntries(DYNAMODB_CALLS.map((call) => [call, tableOnly])) },
    },
  });
}

/** The client itself, its calls traced when tracing is on. */
export function traced<T>(client: T): T {
  return tracer.captureAWSv3Client(client);
}

/** A segment per invocation, annotated with the cold start and service; never the response. */
export function lambdaTracing(): middy.MiddlewareObj {
  return captureLambdaHandler(tracer, { captureResponse: false });
}
