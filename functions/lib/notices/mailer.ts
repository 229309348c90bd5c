/**
 * Where notification emails go: SES in AWS, an outbox directory of `.eml` files on the local stack.
 * Both take the finished RFC 5322 message, so what the tests read is byte for byte what SES would send.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { requireEnv } from '../runtime/config';
import { traced } from '../runtime/tracing';
import { AppError, ContractError, TransientError } from '../runtime/errors';

export interface OutgoingMail {
  /** Names the file locally; never the address. */
  requestId: string;
  from: string;
  to: string;
  raw: string;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
}

/** SES refused or failed the message for good (unverified identity, suppressed address, bad message). */
export class MailDeliveryError extends AppError {
  override name = 'MailDeliveryError';
  constructor(message: string) {
    super(message, 'MAIL_FAILED');
  }
}

/** The local stack's mail: one `.eml` per message under the data dir's outbox (0600: it holds an address). */
export class OutboxMailer implements Mailer {
  constructor(private readonly dir: string) {}

  async send(mail: OutgoingMail): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.requestId}.eml`;
    // Written under another name and renamed: whoever reads the outbox never sees half a mail.
    const partial = join(this.dir, `.${name}.${randomUUID()}.partial`);
    await writeFile(partial, mail.raw, { mode: 0o600, flag: 'wx' });
    await rename(partial, join(this.dir, name));
  }
}

const SES_TRANSIENT = new Set(['TooManyRequestsException', 'LimitExceededException', 'InternalFailure']);

/**
 * SESv2 SendEmail with Content.Raw: SES sends the message as built (headers, encoding), so it is the
 * very message the outbox writes. The envelope names the one recipient, whatever the headers say.
 */
export class SesMailer implements Mailer {
  constructor(private readonly client: Pick<SESv2Client, 'send'>) {}

  async send(mail: OutgoingMail): Promise<void> {
    // toMime refuses these too; checked again here because this is where a header would be sent.
    if (/[\r\n]/.test(mail.from) || /[\r\n]/.test(mail.to))
      throw new ContractError('A mail address may not contain a line break');
    try {
      await this.client.send(
        new SendEmailCommand({
          FromEmailAddress: mail.from,
          Destination: { ToAddresses: [mail.to] },
          Content: { Raw: { Data: Buffer.from(mail.raw, 'utf8') } },
        }),
      );
    } catch (error) {
      // SES messages can quote the addresses: only the error's name leaves this function.
      const err = error as { name?: string; $retryable?: unknown };
      const name = err.name ?? 'Error';
      if (SES_TRANSIENT.has(name) || err.$retryable) throw new TransientError(`SES send failed: ${name}`);
      throw new MailDeliveryError(`SES send failed: ${name}`);
    }
  }
}

/** The sender on the local stack, where nothing is really sent. */
const LOCAL_FROM_ADDRESS = 'privacy@dsr.example';

let ses: SESv2Client | undefined;

function sesClient(): SESv2Client {
  ses ??= traced(new SESv2Client({}));
  return ses;
}

/**
 * OUTBOX_DIR selects the outbox (local stack); otherwise SES, from NOTIFY_FROM_ADDRESS (a verified SES
 * identity), so a deployment without a sender fails at load, naming the variable.
 */
export function mailerFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  client: () => Pick<SESv2Client, 'send'> = sesClient,
): { mailer: Mailer; from: string } {
  if (env.OUTBOX_DIR)
    return { mailer: new OutboxMailer(env.OUTBOX_DIR), from: env.NOTIFY_FROM_ADDRESS || LOCAL_FROM_ADDRESS };
  return { mailer: new SesMailer(client()), from: requireEnv('NOTIFY_FROM_ADDRESS', env) };
}
