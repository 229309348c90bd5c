/**
 * An HTTP proxy in front of a local store (DynamoDB Local or the local S3) that, while enabled, answers
 * some calls as a troubled AWS service would: throttling (DynamoDB's 400 ThrottlingException, S3's
 * 503 SlowDown), a 500, an answer held back past the client's timeout, or a reset connection. Resets
 * and held-back answers come after the store did the work half of the time: the caller cannot tell
 * whether its write landed, which is what retries must survive. Everything else passes through as is
 * (the Host header too, so SigV4 signatures still match). Used by the fault-injection campaign
 * (scripts/chaos.ts, docs/chaos.md); never part of `npm start` unless DSR_CHAOS asks for it.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyFaultKind = 'throttle' | 'error500' | 'timeout' | 'reset';
export const PROXY_FAULT_KINDS: readonly ProxyFaultKind[] = ['throttle', 'error500', 'timeout', 'reset'];

export interface FaultProxyOptions {
  /** The store's own endpoint, e.g. http://127.0.0.1:8000. */
  target: string;
  /** Which answers to fake: DynamoDB's JSON errors or S3's XML ones. */
  flavour: 'dynamodb' | 's3';
  /** Per call, the chance of each fault (their sum at most 1). */
  rates: Partial<Record<ProxyFaultKind, number>>;
  /** A number in [0, 1): seeded by the campaign, so a run can be repeated. */
  random: () => number;
  /** How long a held-back answer is held: longer than the clients' SDK_REQUEST_TIMEOUT_MS. */
  holdMs: number;
  /** Told of each fault injected. */
  onFault?: (kind: ProxyFaultKind) => void;
}

export interface FaultProxy {
  endpoint: string;
  /** Faults only while enabled (start-up and the campaign's own reads pass untouched). */
  setEnabled(enabled: boolean): void;
  stop(): Promise<void>;
}

function errorAnswer(flavour: FaultProxyOptions['flavour'], kind: 'throttle' | 'error500') {
  if (flavour === 'dynamodb') {
    const type = kind === 'throttle' ? 'ThrottlingException' : 'InternalServerError';
    return {
      status: kind === 'throttle' ? 400 : 500,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type },
      body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'Injected fault' }),
    };
  }
  const code = kind === 'throttle' ? 'SlowDown' : 'InternalError';
  return {
    status: kind === 'throttle' ? 503 : 500,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>Injected fault</Message></Error>`,
  };
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  let enabled = false;
  const held = new Set<NodeJS.Timeout>();

  const pick = (): ProxyFaultKind | undefined => {
    if (!enabled) return undefined;
    let roll = options.random();
    for (const kind of PROXY_FAULT_KINDS) {
      const rate = options.rates[kind] ?? 0;
      if (roll < rate) return kind;
      roll -= rate;
    }
    return undefined;
  };

  /** Forwards the call; resolves with the store's answer, read in full. */
  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const upstream = httpRequest(
        {
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const fault = pick();
      const body = Buffer.concat(chunks);
      if (fault === 'throttle' || fault === 'error500') {
        options.onFault?.(fault);
        const answer = errorAnswer(options.flavour, fault);
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
        return;
      }
      // Resets and held-back answers: before the store saw the call, or after it did the work.
      const afterEffect = fault !== undefined && options.random() < 0.5;
      if (fault === 'reset' && !afterEffect) {
        options.onFault?.(fault);
        req.socket.destroy();
        return;
      }
      /** No answer until well past the client's timeout, then a closed connection. */
      const holdBack = () => {
        const timer = setTimeout(() => {
          held.delete(timer);
          req.socket.destroy();
        }, options.holdMs);
        held.add(timer);
      };
      if (fault === 'timeout' && !afterEffect) {
        options.onFault?.(fault);
        holdBack();
        return;
      }
      forward(req, body).then(
        (answer) => {
          if (fault === 'reset') {
            options.onFault?.(fault);
            req.socket.destroy();
            return;
          }
          if (fault === 'timeout') {
            options.onFault?.(fault);
            holdBack();
            return;
          }
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        },
        () => {
          // The store itself is gone (the stack is stopping): the caller sees a reset.
          req.socket.destroy();
        },
      );
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    setEnabled: (value) => {
      enabled = value;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const timer of held) clearTimeout(timer);
        held.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
