/** Request ids are `req_` and 32 lower-case hex digits (a random UUID without its dashes). */
const REQUEST_ID = /^req_[a-f0-9]{32}$/;

/** True for a well-formed request id: anything else names no request and is never looked up. */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}
