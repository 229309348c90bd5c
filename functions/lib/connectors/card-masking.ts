/**
 * Card data rules for exports: a card number shows at most its last 4 digits, a security code never
 * appears in any form, and no value anywhere may carry something that looks like a full card number.
 */

const MASK = '************';

function normalizeKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** Card security codes, PIN data and credentials: dropped wherever they appear. */
const SECRET_KEYS = new Set([
  'cvc',
  'cvv',
  'cvc2',
  'cvv2',
  'cvn',
  'cvd',
  'cid',
  'csc',
  'cav2',
  'securitycode',
  'cardsecuritycode',
  'cardverificationcode',
  'cardverificationvalue',
  'verificationcode',
  'pin',
  'pinblock',
  'track1',
  'track2',
  'trackdata',
  'magstripe',
  'passwordhash',
]);
const SECRET_KEY_PARTS = /token|secret|password|passwd|apikey|privatekey|credential/;

export function isSecretKey(name: string): boolean {
  const key = normalizeKey(name);
  return SECRET_KEYS.has(key) || SECRET_KEY_PARTS.test(key) || /(cvc|cvv)$/.test(key);
}

/** Attributes holding a full card number (legacy rows): shown only as last 4. */
const PAN_KEYS = new Set([
  'cardnumber',
  'pan',
  'primaryaccountnumber',
  'ccnumber',
  'creditcardnumber',
  'cardno',
  'cardnum',
]);

/** `inCard`: the key sits inside a card-like map, where a plain `number` is the card number too. */
export function isPanKey(name: string, inCard = false): boolean {
  const key = normalizeKey(name);
  return PAN_KEYS.has(key) || (inCard && key === 'number');
}

function isCardKey(name: string): boolean {
  return normalizeKey(name).includes('card');
}

/** The last 4 digits of whatever a card number field holds, or undefined if it holds fewer than 4. */
export function lastFourDigits(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') return undefined;
  const digits = String(value).replace(/\D/g, '');
  return digits.length >= 4 ? digits.slice(-4) : undefined;
}

/** A card number as shown in an export: a fixed-length mask (it does not reveal the length) and last 4. */
export function maskCardNumber(value: unknown): string | undefined {
  const last4 = lastFourDigits(value);
  return last4 === undefined ? undefined : `${MASK}${last4}`;
}

export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return digits.length > 0 && sum % 10 === 0;
}

// 13 to 19 digits, optionally grouped by single spaces or dashes, not part of a longer digit run.
const PAN_CANDIDATE = /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g;

/** Masks every card-number-like digit run (13-19 digits passing the Luhn check) inside free text. */
export function scrubCardNumbers(text: string): string {
  return text.replace(PAN_CANDIDATE, (match) => {
    const digits = match.replace(/\D/g, '');
    return passesLuhn(digits) ? `${MASK}${digits.slice(-4)}` : match;
  });
}

/**
 * Applies the card rules to a value whose meaning the connector does not know: secret keys dropped,
 * card-number keys masked, card-number-like digit runs masked in strings and in numbers.
 */
export function scrubCardData(value: unknown, inCard = false): unknown {
  if (typeof value === 'string') return scrubCardNumbers(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    const text = String(value);
    const scrubbed = scrubCardNumbers(text);
    return scrubbed === text ? value : scrubbed;
  }
  if (Array.isArray(value)) return value.map((entry) => scrubCardData(entry, inCard));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(value)) {
      if (isSecretKey(key)) continue;
      out[key] = isPanKey(key, inCard)
        ? (maskCardNumber(entry) ?? null)
        : scrubCardData(entry, isCardKey(key));
    }
    return out;
  }
  return value;
}
