/**
 * Where notification emails go: SES in AWS, an outbox directory of `.eml` files on the local stack.
 * Both take the finished RFC 5322 message, so what the tests read is byte for byte what SES would send.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../shared/config';

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

/** The local stack's mail: one `.eml` per message under the data dir's outbox (0600: it holds an address). */
export class OutboxMailer implements Mailer {
  constructor(private readonly dir: string) {}

  async send(mail: OutgoingMail): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.requestId}.eml`;
    await writeFile(join(this.dir, name), mail.raw, { mode: 0o600, flag: 'wx' });
  }
}

/**
 * OUTBOX_DIR selects the outbox (local stack). In AWS the mailer is SES (SESv2 SendEmail with
 * Content.Raw); @aws-sdk/client-sesv2 is not a dependency yet, so that path fails loudly until it is.
 */
export function mailerFromEnv(env: NodeJS.ProcessEnv = process.env): Mailer {
  if (env.OUTBOX_DIR) return new OutboxMailer(env.OUTBOX_DIR);
  throw new ConfigError(
    'Missing required environment variable OUTBOX_DIR (the SES mailer needs @aws-sdk/client-sesv2, not installed)',
  );
}
