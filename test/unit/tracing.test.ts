/**
 * Tracing in Lambda records each AWS call's operation and bucket, never the object key (keys name
 * people) nor the handler's response; outside Lambda it is off and leaves clients alone. The X-Ray
 * daemon is a UDP socket here, and S3 a local HTTP server.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

type Modules = {
  clients: typeof import('../../functions/lib/aws/clients');
  observability: typeof import('../../functions/lib/runtime/observability');
  tracing: typeof import('../../functions/lib/runtime/tracing');
};

/** Fresh copies, so the Tracer and the X-Ray SDK read the environment as it is now. */
function freshModules(): Modules {
  let modules: Modules | undefined;
  jest.isolateModules(() => {
    modules = {
      clients: jest.requireActual('../../functions/lib/aws/clients'),
      observability: jest.requireActual('../../functions/lib/runtime/observability'),
      tracing: jest.requireActual('../../functions/lib/runtime/tracing'),
    };
  });
  if (!modules) throw new Error('modules not loaded');
  return modules;
}

const XRAY_MIDDLEWARE = 'XRaySDKInstrumentation';
const middlewareNames = (client: S3Client) => client.middlewareStack.identify().map((m) => m.split(' ')[0]);

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

test('outside Lambda, clients are returned untouched and handlers run as they are', async () => {
  delete process.env.AWS_EXECUTION_ENV;
  const { tracing, observability } = freshModules();
  // The X-Ray SDK loaded without its promise hook (cls-hooked), which would slow the whole process.
  expect(process.env.AWS_XRAY_MANUAL_MODE).toBe('true');
  const client = new S3Client({ region: 'eu-west-1' });
  expect(tracing.traced(client)).toBe(client);
  expect(middlewareNames(client)).not.toContain(XRAY_MIDDLEWARE);
  const handler = middy<unknown, string>()
    .use(observability.observability())
    .handler(async () => 'done');
  await expect(handler({}, {} as Context)).resolves.toBe('done');
});

describe('in Lambda', () => {
  let daemon: Socket;
  let s3: Server;
  const segments: Record<string, unknown>[] = [];

  beforeAll(async () => {
    daemon = createSocket('udp4');
    daemon.on('message', (message) => {
      // Each datagram is a header line, then the segment document.
      const [, document] = message.toString('utf8').split('\n');
      if (document) segments.push(JSON.parse(document) as Record<string, unknown>);
    });
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    s3 = createServer((_req, res) => res.end('{"photo":1}'));
    await new Promise<void>((resolve) => s3.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    daemon.close();
    await new Promise((resolve) => s3.close(resolve));
  });

  test('a call records its operation and bucket; neither the key nor the response is traced', async () => {
    Object.assign(process.env, {
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: '/var/task',
      _HANDLER: 'index.handler',
      _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(s3.address() as AddressInfo).port}`,
      LOG_LEVEL: 'silent',
    });
    const { clients, observability } = freshModules();
    expect(process.env.AWS_XRAY_MANUAL_MODE).toBeUndefined();
    const handler = middy<unknown, { owner: string }>()
      .use(observability.observability())
      .handler(async () => {
        await clients.s3Client().send(new GetObjectCommand({ Bucket: 'media', Key: 'avatars/u-4711/a.jpg' }));
        return { owner: 'u-4711' };
      });
    await handler({}, { awsRequestId: 'aws-request-1', functionName: 'dsr-media' } as Context);
    for (let wait = 0; wait < 50 && segments.length < 2; wait++) await new Promise((r) => setTimeout(r, 20));

    const call = segments.find((segment) => segment.name === 'S3');
    expect(call).toMatchObject({ namespace: 'aws', aws: { operation: 'GetObject', bucket_name: 'media' } });
    expect(segments.find((segment) => segment.name === '## index.handler')).toBeDefined();
    expect(JSON.stringify(segments)).not.toContain('u-4711');
  });
});
