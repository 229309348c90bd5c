/** Starts the real local stack (as `npm start` does, in memory, on free ports) for integration tests. */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { STATE_MACHINES } from '../../functions/lib/connectors/catalog';
import { startScratchStack, type LocalStack } from '../../local/stack';
import type { LocalWorkflowOptions } from '../../local/workflows';
import { mintToken } from '../../local/auth';
import type { Role } from '../../functions/api/auth';

export interface TestStack extends LocalStack {
  token(role: Role): string;
  call(
    method: string,
    path: string,
    options?: { role?: Role | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    body: Record<string, unknown>;
    headers: Headers;
  }>;
  waitForStatus(requestId: string, statuses: string[], timeoutMs?: number): Promise<Record<string, unknown>>;
  getObjectBytes(bucket: string, key: string): Promise<Buffer>;
  /** Runs the batched log-erasure job (statemachines/log-erasure.asl.json) to its end. */
  runLogErasureJob(name: string): Promise<{ status: string; output?: string; ms: number }>;
}

function parseBody(text: string): Record<string, unknown> {
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return { raw: text };
  }
}

export async function startTestStack(
  options: { seed?: boolean; workflows?: LocalWorkflowOptions } = {},
): Promise<TestStack> {
  process.env.LOG_LEVEL ??= 'silent';
  const stack = await startScratchStack({ seed: options.seed ?? true, workflows: options.workflows });
  const token = (role: Role) => mintToken(stack.tokenKey, role);
  const call: TestStack['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const role = opts.role === undefined ? 'support' : opts.role;
    if (role) headers.authorization = `Bearer ${token(role)}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${stack.apiUrl}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    return { status: res.status, body: parseBody(text), headers: res.headers };
  };
  const waitForStatus: TestStack['waitForStatus'] = async (requestId, statuses, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await call('GET', `/v1/requests/${requestId}`);
      if (statuses.includes(String(res.body.status))) return res.body;
      if (Date.now() > deadline) throw new Error(`Request stayed ${String(res.body.status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const getObjectBytes = async (bucket: string, key: string) => {
    const out = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  };
  const runLogErasureJob: TestStack['runLogErasureJob'] = async (name) => {
    const started = Date.now();
    const arn = stack.workflows.arnOf(STATE_MACHINES.logErasure.localName);
    const execution = stack.workflows.startExecution(arn, name, {});
    await execution.done;
    return { status: execution.status, output: execution.output, ms: Date.now() - started };
  };
  return {
    ...stack,
    token,
    call,
    waitForStatus,
    getObjectBytes,
    runLogErasureJob,
  };
}
