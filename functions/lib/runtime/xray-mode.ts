/**
 * Outside Lambda (tests, the local stack) the Tracer is off, yet the X-Ray SDK, as it loads, hooks every
 * promise and async resource of the process (cls-hooked) to carry a trace context that nothing reads: in
 * the local stack's log-erasure job it was about a tenth of the CPU, GC included. Its manual mode leaves
 * that hook out. Imported before the SDK (tracing.ts); in Lambda (AWS_EXECUTION_ENV set) nothing changes.
 */
if (!process.env.AWS_EXECUTION_ENV) process.env.AWS_XRAY_MANUAL_MODE ??= 'true';
