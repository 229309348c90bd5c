/**
 * Posts one callback: a single request, no redirects followed (a 3xx is a failure), a timeout on the
 * whole exchange (not only on idle sockets: a receiver trickling bytes is cut off too), and a
 * DNS lookup that refuses private addresses unless the local stack allows them, so a hostname cannot
 * be pointed at our network after the URL was accepted.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isPrivateAddress } from './url-policy';

export interface PostResult {
  /** The HTTP status, when the receiver answered. */
  status?: number;
  /** Why no answer came: a stable reason, never the receiver's text. */
  reason?: 'TIMEOUT' | 'CONNECTION_FAILED' | 'PRIVATE_ADDRESS' | 'REDIRECT_NOT_FOLLOWED' | 'HTTP_ERROR';
}

export type CallbackTransport = (
  url: string,
  body: Buffer,
  headers: Record<string, string>,
) => Promise<PostResult>;

function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 4);
      const list = addresses ?? [];
      if (!allowPrivate && (list.length === 0 || list.some((a) => isPrivateAddress(a.address)))) {
        const refused = Object.assign(new Error('Callback address refused'), { code: 'EPRIVATE' });
        return callback(refused, '', 4);
      }
      if ((options as { all?: boolean }).all) {
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      }
      const first = list[0];
      callback(null, first?.address ?? '', first?.family ?? 4);
    });
  };
}

export function httpTransport(options: { allowPrivate: boolean; timeoutMs: number }): CallbackTransport {
  return (url, body, headers) =>
    new Promise<PostResult>((done) => {
      let deadline: NodeJS.Timeout | undefined = undefined;
      const resolve = (result: PostResult) => {
        clearTimeout(deadline);
        done(result);
      };
      const target = new URL(url);
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const literal = target.hostname.replace(/^\[|\]$/g, '');
      if (!options.allowPrivate && isPrivateAddressLiteral(literal))
        return resolve({ reason: 'PRIVATE_ADDRESS' });
      const req = send(
        target,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(body.length) },
          lookup: guardedLookup(options.allowPrivate),
          timeout: options.timeoutMs,
        },
        (res) => {
          // The answer is the status; a body (however slow) is not waited for.
          res.destroy();
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400) resolve({ status, reason: 'REDIRECT_NOT_FOLLOWED' });
          else if (status >= 200 && status < 300) resolve({ status });
          else resolve({ status, reason: 'HTTP_ERROR' });
        },
      );
      const timedOut = () => {
        req.destroy();
        resolve({ reason: 'TIMEOUT' });
      };
      req.on('timeout', timedOut);
      deadline = setTimeout(timedOut, options.timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        resolve({ reason: error.code === 'EPRIVATE' ? 'PRIVATE_ADDRESS' : 'CONNECTION_FAILED' });
      });
      req.end(body);
    });
}

function isPrivateAddressLiteral(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':') ? isPrivateAddress(host) : false;
}
