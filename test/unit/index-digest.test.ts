import {
  periodsOf,
  renderBarChart,
  valuesIn,
  niceStep,
  MAX_BARS,
} from '../../functions/assemble-export/chart';
import {
  AMOUNT_SPECS,
  dateFieldOf,
  DigestBuilder,
  MAX_MONTHS,
  monthOf,
  PREVIEW_ROWS,
} from '../../functions/assemble-export/digest';
import { activitySeries, purchaseSeries, type IndexStore } from '../../functions/assemble-export/index-html';
import { fieldLabel, humanizeField } from '../../functions/assemble-export/index-text';
import { accountLocale } from '../../functions/lib/downloads/download-page';
import { serviceProfile } from '../../functions/lib/services/profiles';

async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

async function drain<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

describe('collection digest (gathered while streaming)', () => {
  it('finds the date field from the schema', () => {
    expect(
      dateFieldOf({
        properties: {
          id: { type: 'string' },
          ts: { type: 'string', format: 'date-time' },
          at: { format: 'date-time' },
        },
      }),
    ).toBe('ts');
    expect(dateFieldOf({ properties: { id: { type: 'string' } } })).toBeUndefined();
    expect(dateFieldOf({})).toBeUndefined();
  });

  it('reads months in UTC and refuses what is not a date', () => {
    expect(monthOf('2024-03-31T23:30:00Z')).toBe('2024-03');
    expect(monthOf('2024-04-01T01:00:00+09:00')).toBe('2024-03');
    for (const bad of ['', 'yesterday', '2024-13-40T00:00:00Z', 1711843200000, null, { ts: '2024-01' }]) {
      expect(monthOf(bad)).toBeUndefined();
    }
  });

  it('counts records per month and the undated ones, keeping only the first rows', () => {
    const builder = new DigestBuilder(['ts', 'ip'], 'ts');
    const records = [
      ...Array.from({ length: 30 }, (_, i) => ({
        ts: `2024-0${1 + (i % 3)}-10T00:00:00Z`,
        ip: `10.0.0.${i}`,
      })),
      { ts: 'not a date', ip: 'x' },
      { ip: 'no date' },
    ];
    for (const r of records) builder.add(r);
    const digest = builder.result();
    expect(digest.perMonth).toEqual({ '2024-01': 10, '2024-02': 10, '2024-03': 10 });
    expect(digest.undated).toBe(2);
    expect(digest.rows).toHaveLength(PREVIEW_ROWS);
    expect(digest.rows[0]).toEqual(['2024-01-10T00:00:00Z', '10.0.0.0']);
    expect(digest.dateField).toBe('ts');
    expect(digest.amounts).toBeUndefined();
  });

  it('sums purchases per currency and month, and nothing else', () => {
    const builder = new DigestBuilder(['txnAt'], 'txnAt', AMOUNT_SPECS['payments/transactions']);
    const at = '2024-05-02T10:00:00Z';
    for (const r of [
      { txnAt: at, type: 'purchase', amountMajor: '12.50', currency: 'USD' },
      { txnAt: at, type: 'subscription', amountMajor: 7.5, currency: 'USD' },
      { txnAt: at, type: 'refund', amountMajor: '12.50', currency: 'USD' },
      { txnAt: at, type: 'payout', amountMajor: '1000', currency: 'JPY' },
      { txnAt: '2024-06-01T00:00:00Z', type: 'purchase', amountMajor: '1000', currency: 'JPY' },
      { txnAt: at, type: 'purchase', amountMajor: 'lots', currency: 'JPY' },
      { txnAt: at, type: 'purchase', amountMajor: '5', currency: '<b>' },
    ])
      builder.add(r);
    const digest = builder.result();
    expect(digest.amounts).toEqual({ USD: { '2024-05': 20 }, JPY: { '2024-06': 1000 } });
    // Every dated transaction counts as activity, refunds and payouts included.
    expect(digest.perMonth).toEqual({ '2024-05': 6, '2024-06': 1 });
  });

  it('keeps a bounded number of months, whatever the dates', () => {
    const builder = new DigestBuilder(['ts'], 'ts');
    const total = MAX_MONTHS + 500;
    for (let i = 0; i < total; i++) {
      builder.add({
        ts: `${String(1000 + Math.floor(i / 12)).padStart(4, '0')}-${String(1 + (i % 12)).padStart(2, '0')}-01T00:00:00Z`,
      });
    }
    const digest = builder.result();
    expect(Object.keys(digest.perMonth)).toHaveLength(MAX_MONTHS);
    expect(digest.undated).toBe(500);
  });

  it('parses staged lines only while it wants them, passing every line through unchanged', async () => {
    const lines = [
      ...Array.from({ length: PREVIEW_ROWS }, (_, i) => Buffer.from(JSON.stringify({ id: i }))),
      // Past the preview, with no date to count, a line is not even parsed.
      Buffer.from('not json at all'),
    ];
    const builder = new DigestBuilder(['id'], undefined);
    const out = await drain(builder.lines(fromArray(lines)));
    expect(out).toEqual(lines);
    expect(builder.wants()).toBe(false);
    expect(builder.result().rows).toHaveLength(PREVIEW_ROWS);

    const dated = new DigestBuilder(['ts'], 'ts');
    const many = Array.from({ length: 50 }, () => Buffer.from('{"ts":"2023-12-01T00:00:00Z"}'));
    await drain(dated.lines(fromArray(many)));
    expect(dated.result().perMonth).toEqual({ '2023-12': 50 });
    await expect(
      drain(new DigestBuilder(['ts'], 'ts').lines(fromArray([Buffer.from('[1]')]))),
    ).rejects.toThrow('not a JSON object');
  });

  it('digests parsed records as they pass', async () => {
    const builder = new DigestBuilder(['ts'], 'ts');
    const records = [{ ts: '2020-01-01T00:00:00Z' }, { ts: '2020-02-01T00:00:00Z' }];
    expect(await drain(builder.records(fromArray(records)))).toEqual(records);
    expect(builder.result().perMonth).toEqual({ '2020-01': 1, '2020-02': 1 });
  });
});

describe('charts', () => {
  it('spans every month from the first to the last, gaps included', () => {
    const periods = periodsOf([{ label: 'a', values: { '2023-11': 1, '2024-02': 3 } }]);
    expect(periods).toEqual({ unit: 'month', periods: ['2023-11', '2023-12', '2024-01', '2024-02'] });
    expect(valuesIn({ label: 'a', values: { '2023-11': 1, '2024-02': 3 } }, periods)).toEqual([1, 0, 0, 3]);
    expect(periodsOf([])).toEqual({ unit: 'month', periods: [] });
  });

  it('switches to years past MAX_BARS months, summing each year', () => {
    const series = { label: 'a', values: { '2019-06': 2, '2019-07': 3, '2023-01': 4 } };
    const periods = periodsOf([series]);
    expect(periods.unit).toBe('year');
    expect(periods.periods).toEqual(['2019', '2020', '2021', '2022', '2023']);
    expect(valuesIn(series, periods)).toEqual([5, 0, 0, 0, 4]);
    const months = Object.fromEntries(
      Array.from({ length: MAX_BARS }, (_, i) => [
        `20${20 + Math.floor(i / 12)}-${String(1 + (i % 12)).padStart(2, '0')}`,
        1,
      ]),
    );
    expect(periodsOf([{ label: 'b', values: months }]).unit).toBe('month');
  });

  it('picks round gridline steps', () => {
    expect(niceStep(0)).toBe(1);
    expect(niceStep(7)).toBe(2);
    expect(niceStep(40)).toBe(10);
    expect(niceStep(2950)).toBe(1000);
  });

  it('stacks series and escapes every label', () => {
    const svg = renderBarChart(
      'c',
      [
        { label: '<b>logs</b>', values: { '2024-01': 2, '2024-02': 1 } },
        { label: 'chat', values: { '2024-01': 3 } },
      ],
      {
        title: 'T "<x>"',
        description: 'D & d',
        formatPeriod: (p) => `<${p}>`,
        formatValue: (v) => String(v),
      },
    );
    expect(svg).toContain('<title id="c-title">T &quot;&lt;x&gt;&quot;</title>');
    expect(svg).toContain('<desc id="c-desc">D &amp; d</desc>');
    expect(svg.match(/<rect /g)).toHaveLength(3);
    expect(svg).toContain('<title>&lt;b&gt;logs&lt;/b&gt;, &lt;2024-01&gt;: 2</title>');
    expect(svg).not.toContain('<b>');
    // Stacked: the chat bar of January sits on top of the logs bar (it starts higher up, at a smaller y).
    const ys = [...svg.matchAll(/<rect class="s(\d)" x="([\d.]+)" y="([\d.]+)"/g)].map((m) => ({
      s: m[1],
      x: Number(m[2]),
      y: Number(m[3]),
    }));
    const january = ys.filter((r) => r.x === ys[0]!.x);
    expect(january.map((r) => r.s)).toEqual(['0', '1']);
    expect(january[1]!.y).toBeLessThan(january[0]!.y);
  });

  it("adds up each store's dated collections for the activity chart, leaving accounts out", () => {
    const digest = (perMonth: Record<string, number>, amounts?: Record<string, Record<string, number>>) => ({
      columns: [],
      hiddenColumns: 0,
      rows: [],
      dateField: 'ts',
      perMonth,
      undated: 0,
      ...(amounts ? { amounts } : {}),
    });
    const collection = (name: string, d: ReturnType<typeof digest>) => ({
      name,
      description: '',
      records: 1,
      jsonPath: `${name}.json`,
      schemaPath: `${name}.schema.json`,
      digest: d,
    });
    const stores: IndexStore[] = [
      { store: 'accounts', media: [], collections: [collection('devices', digest({ '2024-01': 9 }))] },
      {
        store: 'logs',
        media: [],
        collections: [
          collection('access-log', digest({ '2024-01': 2, '2024-02': 1 })),
          collection('voice-sessions', digest({ '2024-02': 4 })),
        ],
      },
      {
        store: 'payments',
        media: [],
        collections: [collection('transactions', digest({ '2024-03': 1 }, { EUR: { '2024-03': 9.5 } }))],
      },
    ];
    expect(activitySeries(stores, 'en')).toEqual([
      { label: 'Activity logs', values: { '2024-01': 2, '2024-02': 5 } },
      { label: 'Payments', values: { '2024-03': 1 } },
    ]);
    expect(activitySeries(stores, 'ja').map((s) => s.label)).toEqual(['利用記録', 'お支払い']);
    expect(purchaseSeries(stores)).toEqual([{ currency: 'EUR', values: { '2024-03': 9.5 } }]);
  });
});

describe('words', () => {
  it('names columns in each language, and splits unknown names at their capitals', () => {
    expect(fieldLabel('userAgent', 'en')).toBe('Browser or app');
    expect(fieldLabel('userAgent', 'ja')).toBe('ブラウザ・アプリ');
    expect(fieldLabel('detailsPrizeColor', 'ja')).toBe('Details prize color');
    expect(humanizeField('shipping_address2')).toBe('Shipping address2');
    expect(fieldLabel('constructor', 'en')).toBe('Constructor');
  });

  it("chooses the page's language from the account's locale, else the service's own", () => {
    expect(accountLocale('ja-JP', serviceProfile('klub-outside'))).toBe('ja');
    expect(accountLocale('ja', serviceProfile('klub-outside'))).toBe('ja');
    expect(accountLocale('en_US', serviceProfile('cluster'))).toBe('en');
    // A language with no page of its own: English, the other language every page has.
    expect(accountLocale('ko-KR', serviceProfile('cluster'))).toBe('en');
    expect(accountLocale(undefined, serviceProfile('cluster'))).toBe('ja');
    expect(accountLocale(undefined, serviceProfile('klub-outside'))).toBe('en');
  });
});
