/**
 * A finished RFC 5322 message (UTF-8, base64 body) from a subject line and a text: what the outbox
 * writes locally and SES sends, for the download-link e-mail and every outcome notice alike.
 */
import { randomUUID } from 'node:crypto';

export interface EmailContent {
  subject: string;
  text: string;
}

/** RFC 2047 encoded-word, so a Japanese subject survives every mail system. */
function encodeHeader(value: string): string {
  return /^[\x20-\x7e]*$/.test(value)
    ? value
    : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

function assertHeaderSafe(value: string, name: string): void {
  if (/[\r\n]/.test(value)) throw new Error(`The ${name} header may not contain a line break`);
}

/** A complete RFC 5322 message: UTF-8 text body, base64-encoded, lines of 76. */
export function toMime(input: {
  from: string;
  to: string;
  content: EmailContent;
  locale: string;
  date: Date;
}): string {
  assertHeaderSafe(input.from, 'From');
  assertHeaderSafe(input.to, 'To');
  const domain = input.from.split('@')[1] ?? 'localhost';
  const body = (
    Buffer.from(`${input.content.text}\n`, 'utf8')
      .toString('base64')
      .match(/.{1,76}/g) ?? []
  ).join('\r\n');
  return [
    `From: ${input.from}`,
    `To: ${input.to}`,
    `Subject: ${encodeHeader(input.content.subject)}`,
    `Date: ${input.date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomUUID()}@${domain}>`,
    'MIME-Version: 1.0',
    `Content-Language: ${input.locale}`,
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: base64',
    'Auto-Submitted: auto-generated',
    '',
    body,
    '',
  ].join('\r\n');
}
