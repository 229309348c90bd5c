import {
  isPanKey,
  isSecretKey,
  lastFourDigits,
  maskCardNumber,
  passesLuhn,
  scrubCardData,
  scrubCardNumbers,
} from '../../functions/lib/connectors/card-masking';

/** Independent Luhn check-digit computation, to build valid numbers of any length. */
function withCheckDigit(body: string): string {
  for (let check = 0; check <= 9; check++) {
    const digits = `${body}${check}`;
    let sum = 0;
    [...digits].reverse().forEach((c, i) => {
      const d = Number(c) * (i % 2 === 1 ? 2 : 1);
      sum += d > 9 ? d - 9 : d;
    });
    if (sum % 10 === 0) return digits;
  }
  throw new Error('unreachable');
}

/** Every run of 5 or more digits (ignoring spaces and dashes between them) in a text. */
function longDigitRuns(text: string): string[] {
  return (text.match(/[0-9](?:[ -]?[0-9]){4,}/g) ?? []).map((run) => run.replace(/\D/g, ''));
}

describe('card number masking', () => {
  it('shows a full card number as its last 4 only', () => {
    expect(maskCardNumber('4111111111111111')).toBe('************1111');
    expect(maskCardNumber('4111 1111 1111 1234')).toBe('************1234');
    expect(maskCardNumber('5555-5555-5555-4444')).toBe('************4444');
    expect(maskCardNumber(4111111111111111)).toBe('************1111');
    expect(maskCardNumber(5555555555554444n)).toBe('************4444');
    expect(lastFourDigits('4111111111111111')).toBe('1111');
  });

  it('shows nothing for a value without 4 digits', () => {
    expect(maskCardNumber('12')).toBeUndefined();
    expect(maskCardNumber(undefined)).toBeUndefined();
    expect(maskCardNumber({ n: '4111111111111111' })).toBeUndefined();
  });

  it('the mask does not reveal the number length', () => {
    expect(maskCardNumber(withCheckDigit('42222222222'.padEnd(12, '2')))).toHaveLength(16);
    expect(maskCardNumber(withCheckDigit('4'.padEnd(18, '1')))).toHaveLength(16);
  });
});

describe('scrubCardNumbers (free text)', () => {
  it('masks Luhn-valid 13 to 19 digit runs, grouped or not', () => {
    for (const length of [13, 14, 15, 16, 17, 18, 19]) {
      const pan = withCheckDigit('4'.padEnd(length - 1, '7'));
      const out = scrubCardNumbers(`paid with ${pan} yesterday`);
      expect(out).toBe(`paid with ************${pan.slice(-4)} yesterday`);
      expect(longDigitRuns(out)).toEqual([]);
    }
    expect(scrubCardNumbers('card 4111 1111 1111 1111, thanks')).toBe('card ************1111, thanks');
    expect(scrubCardNumbers('4111-1111-1111-1111')).toBe('************1111');
  });

  it('leaves numbers that cannot be card numbers alone', () => {
    const notLuhn = '4111111111111112';
    expect(passesLuhn(notLuhn)).toBe(false);
    expect(scrubCardNumbers(`ref ${notLuhn}`)).toBe(`ref ${notLuhn}`);
    expect(scrubCardNumbers('order 123456789012')).toBe('order 123456789012'); // 12 digits
    const twenty = withCheckDigit('4'.padEnd(19, '1'));
    expect(scrubCardNumbers(twenty)).toBe(twenty); // 20 digits
    expect(scrubCardNumbers('2024-01-05T10:00:00Z')).toBe('2024-01-05T10:00:00Z');
  });
});

describe('scrubCardData (values of unknown meaning)', () => {
  it('drops security codes at any depth and masks card numbers', () => {
    const out = scrubCardData({
      cvc: '987',
      CVV2: '987',
      nested: { securityCode: '987', card_verification_value: '987', list: [{ cvv: 987 }] },
      legacyCard: { number: '5555555555554444', cvc2: '987', brand: 'mc' },
      invoice: { number: 'INV-0042' },
      cardNumber: '4111111111111111',
      notes: 'used 4111111111111111',
      amountAsNumber: 4111111111111111,
      paymentToken: 'tok_live_abc',
      shipping: 'express',
    });
    const json = JSON.stringify(out);
    expect(json).not.toContain('987');
    expect(longDigitRuns(json)).toEqual([]);
    expect(out).toEqual({
      nested: { list: [{}] },
      legacyCard: { number: '************4444', brand: 'mc' },
      invoice: { number: 'INV-0042' },
      cardNumber: '************1111',
      notes: 'used ************1111',
      amountAsNumber: '************1111',
      shipping: 'express',
    });
  });

  it('names secrets and card numbers by key', () => {
    for (const key of [
      'cvc',
      'CVV',
      'cvc2',
      'security_code',
      'cardSecurityCode',
      'accessToken',
      'cardToken',
      'pin',
    ])
      expect(isSecretKey(key)).toBe(true);
    for (const key of ['processorRef', 'shipping', 'pinned', 'brand', 'currency'])
      expect(isSecretKey(key)).toBe(false);
    expect(isPanKey('cardNumber')).toBe(true);
    expect(isPanKey('card_number')).toBe(true);
    expect(isPanKey('number')).toBe(false);
    expect(isPanKey('number', true)).toBe(true);
  });
});
