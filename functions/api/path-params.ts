/**
 * Every path parameter the routes use, by the name their path templates give it (`{requestId}`): its
 * schema (checked by the router, shown in the OpenAPI document) and the 404 a value outside the schema
 * gets, since such a path names nothing. One name, one meaning, whichever route it appears in.
 */
import { HOLD_ID } from '../lib/holds/holds';
import { ApiError } from './http';
import { openDsrCreateSchema, requestIdSchema } from './schemas';
import { LOG_ERASURE_JOB_ID } from './log-erasure-jobs';

export interface PathParam {
  schema: { type: 'string'; pattern?: string; description: string };
  /** The stable code and detail of the 404 for a value the schema refuses (or a record that is absent). */
  notFound: { code: string; detail: string };
}

export const PATH_PARAMS = {
  requestId: {
    schema: requestIdSchema,
    notFound: { code: 'REQUEST_NOT_FOUND', detail: 'No such request' },
  },
  holdId: {
    schema: { type: 'string', pattern: HOLD_ID.source, description: 'A hold id (hold_ and 32 hex digits)' },
    notFound: { code: 'HOLD_NOT_FOUND', detail: 'No such hold' },
  },
  subjectRequestId: {
    schema: {
      type: 'string',
      pattern: openDsrCreateSchema.properties.subject_request_id.pattern,
      description: "The controller's subject_request_id (a lowercase UUID v4)",
    },
    notFound: { code: 'RequestNotFound', detail: 'No such subject_request_id' },
  },
  jobId: {
    schema: {
      type: 'string',
      pattern: LOG_ERASURE_JOB_ID.source,
      description: 'A log-erasure job id (logjob-<UTC time>-<8 hex>)',
    },
    notFound: { code: 'LOG_ERASURE_JOB_NOT_FOUND', detail: 'No such log-erasure job' },
  },
  // Any token reaches the download routes: they answer an unknown one with their own page.
  token: {
    schema: { type: 'string', description: 'The download token from the link (its own credential)' },
    notFound: { code: 'LINK_NOT_FOUND', detail: 'No such download link' },
  },
} as const satisfies Record<string, PathParam>;

export type PathParamName = keyof typeof PATH_PARAMS;

/** The 404 for a path parameter that names nothing: malformed, or no such record. */
export function notFound(name: PathParamName): ApiError {
  const { code, detail } = PATH_PARAMS[name].notFound;
  return new ApiError(404, code, detail);
}
