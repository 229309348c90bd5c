/** Request ids are `req_` and 32 lower-case hex digits (a random UUID without its dashes). */
export const REQUEST_ID_PATTERN = '^req_[a-f0-9]{32}$';
const REQUEST_ID = new RegExp(REQUEST_ID_PATTERN);

/** True for a well-formed request id: anything else names no request and is never looked up. */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}
