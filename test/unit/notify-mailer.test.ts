/**
 * The SES mailer with a mocked SESv2 client: the raw message it hands SES is the outbox's RFC 5322
 * message (link, no attachment, the one recipient), header injection never reaches SES, SES failures
 * leave without the address, and mailerFromEnv picks the outbox or SES and names a missing sender.
 */
import { SendEmailCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import { renderLinkEmail, toMime } from '../../functions/notify/email';
import {
  MailDeliveryError,
  OutboxMailer,
  SesMailer,
  mailerFromEnv,
  type OutgoingMail,
} from '../../functions/lib/notices/mailer';
import { ContractError, TransientError } from '../../functions/lib/runtime/errors';

const REQ = `req_${'c'.repeat(32)}`;
const URL = `https://dl.example/v1/downloads/${REQ}.abc.def`;
const FROM = 'privacy@dsr.example';
const TO = 'seoyeon.kim@example.com';

function mockClient(
  impl: (command: SendEmailCommand) => Promise<unknown> = async () => ({ MessageId: 'm' }),
) {
  const send = jest.fn(impl);
  return { client: { send } as unknown as Pick<SESv2Client, 'send'>, send };
}

function mail(to = TO): OutgoingMail {
  const content = renderLinkEmail({
    locale: 'ja',
    url: URL,
    expiresAt: '2030-01-08T00:00:00Z',
    maxDownloads: 5,
  });
  return {
    requestId: REQ,
    from: FROM,
    to,
    raw: toMime({ from: FROM, to, content, locale: 'ja', date: new Date() }),
  };
}

test('sends the raw RFC 5322 message: link inside, no attachment, From/To headers, one recipient', async () => {
  const { client, send } = mockClient();
  const sent = mail();
  await new SesMailer(client).send(sent);
  expect(send).toHaveBeenCalledTimes(1);
  const command = send.mock.calls[0]![0];
  expect(command).toBeInstanceOf(SendEmailCommand);
  const input = command.input;
  expect(input.FromEmailAddress).toBe(FROM);
  expect(input.Destination).toEqual({ ToAddresses: [TO] });
  expect(input.Content?.Simple).toBeUndefined();
  expect(input.Content?.Template).toBeUndefined();
  const raw = Buffer.from(input.Content!.Raw!.Data!).toString('utf8');
  expect(raw).toBe(sent.raw);
  const [head, body] = raw.split('\r\n\r\n') as [string, string];
  expect(head).toMatch(/^From: privacy@dsr\.example\r$/m);
  expect(head).toMatch(/^To: seoyeon\.kim@example\.com\r$/m);
  expect(head).toContain('Content-Type: text/plain; charset=UTF-8');
  expect(raw).not.toMatch(/multipart|attachment|Content-Disposition|application\/zip/i);
  const text = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  expect(text).toContain(URL);
  expect(text).toContain('有効期限: 2030年1月8日');
});

test('an address with a line break never reaches SES', async () => {
  const { client, send } = mockClient();
  const mailer = new SesMailer(client);
  const injected = { ...mail(), to: `${TO}\r\nBcc: attacker@evil.example` };
  await expect(mailer.send(injected)).rejects.toBeInstanceOf(ContractError);
  await expect(mailer.send({ ...mail(), from: `${FROM}\nBcc: a@b.example` })).rejects.toThrow(/line break/);
  expect(send).not.toHaveBeenCalled();
  // The message builder refuses it as well, so no raw message carries the extra header.
  expect(() =>
    toMime({
      from: FROM,
      to: injected.to,
      content: { subject: 's', text: 't' },
      locale: 'en',
      date: new Date(),
    }),
  ).toThrow(/line break/);
});

test('SES failures: throttling is transient, a rejection is final, and neither carries the address', async () => {
  const throttled = mockClient(async () => {
    throw Object.assign(new Error(`Sending to ${TO} is throttled`), { name: 'TooManyRequestsException' });
  });
  const throttledError = await new SesMailer(throttled.client).send(mail()).catch((e: unknown) => e);
  expect(throttledError).toBeInstanceOf(TransientError);
  expect(String((throttledError as Error).message)).not.toContain(TO);

  const rejected = mockClient(async () => {
    throw Object.assign(new Error(`Email address is not verified: ${TO}`), { name: 'MessageRejected' });
  });
  const rejectedError = await new SesMailer(rejected.client).send(mail()).catch((e: unknown) => e);
  expect(rejectedError).toBeInstanceOf(MailDeliveryError);
  expect((rejectedError as Error).name).toBe('MailDeliveryError');
  expect((rejectedError as Error).message).toBe('SES send failed: MessageRejected');
});

describe('mailerFromEnv', () => {
  test('OUTBOX_DIR selects the outbox, with the local sender by default', () => {
    const factory = jest.fn();
    const picked = mailerFromEnv({ OUTBOX_DIR: '/tmp/outbox' }, factory);
    expect(picked.mailer).toBeInstanceOf(OutboxMailer);
    expect(picked.from).toBe('privacy@dsr.example');
    expect(factory).not.toHaveBeenCalled();
  });

  test('without OUTBOX_DIR it is SES, and NOTIFY_FROM_ADDRESS is required, by name', () => {
    expect(() => mailerFromEnv({}, () => mockClient().client)).toThrow(
      'Missing required environment variable NOTIFY_FROM_ADDRESS',
    );
    const picked = mailerFromEnv({ NOTIFY_FROM_ADDRESS: 'no-reply@mail.example' }, () => mockClient().client);
    expect(picked.mailer).toBeInstanceOf(SesMailer);
    expect(picked.from).toBe('no-reply@mail.example');
  });

  test('the default SES client is created once per module', () => {
    const a = mailerFromEnv({ NOTIFY_FROM_ADDRESS: FROM, AWS_REGION: 'us-east-1' }).mailer as SesMailer;
    const b = mailerFromEnv({ NOTIFY_FROM_ADDRESS: FROM, AWS_REGION: 'us-east-1' }).mailer as SesMailer;
    expect(a['client']).toBe(b['client']);
  });
});
