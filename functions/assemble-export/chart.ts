/**
 * Bar charts for index.html, drawn on the server as inline SVG: no script, no font, no request. Values
 * are counts (or sums) per month; a span of more than MAX_BARS months is shown per year instead, so the
 * bars stay wide enough to read. Series stack; every bar carries a <title> (the browser's tooltip), the
 * SVG a title and description for screen readers, and the page puts the same figures in a table.
 */
import { escapeHtml } from '../lib/runtime/html';

/** Most bars a chart draws per month before it switches to years. */
export const MAX_BARS = 36;

export type PeriodUnit = 'month' | 'year';

export interface ChartSeries {
  label: string;
  /** Value per month, `YYYY-MM`. */
  values: Readonly<Record<string, number>>;
}

export interface Periods {
  unit: PeriodUnit;
  /** Every period from the first to the last with data, gaps included (`YYYY-MM` or `YYYY`). */
  periods: string[];
}

const MONTH = /^(\d{4})-(\d{2})$/;

function nextMonth(month: string): string {
  const [, y = '0', m = '1'] = MONTH.exec(month) ?? [];
  const year = Number(y) + (m === '12' ? 1 : 0);
  const next = m === '12' ? 1 : Number(m) + 1;
  return `${String(year).padStart(4, '0')}-${String(next).padStart(2, '0')}`;
}

/** The periods spanned by the series' months: monthly when MAX_BARS or fewer, else yearly. */
export function periodsOf(series: readonly ChartSeries[]): Periods {
  const months = [...new Set(series.flatMap((s) => Object.keys(s.values)))]
    .filter((m) => MONTH.test(m))
    .sort();
  const first = months[0];
  const last = months[months.length - 1];
  if (first === undefined || last === undefined) return { unit: 'month', periods: [] };
  const years = Number(last.slice(0, 4)) - Number(first.slice(0, 4));
  const span = years * 12 + Number(last.slice(5)) - Number(first.slice(5)) + 1;
  if (span <= MAX_BARS) {
    const periods = [first];
    while (periods.length < span) periods.push(nextMonth(periods[periods.length - 1] ?? first));
    return { unit: 'month', periods };
  }
  const start = Number(first.slice(0, 4));
  return {
    unit: 'year',
    periods: Array.from({ length: years + 1 }, (_, i) => String(start + i).padStart(4, '0')),
  };
}

/** The series' value in each period (a year sums its months). */
export function valuesIn(series: ChartSeries, periods: Periods): number[] {
  const totals = new Map<string, number>();
  for (const [month, value] of Object.entries(series.values)) {
    const period = periods.unit === 'month' ? month : month.slice(0, 4);
    totals.set(period, (totals.get(period) ?? 0) + value);
  }
  return periods.periods.map((p) => totals.get(p) ?? 0);
}

/** A round step for about `target` gridlines up to `max`. */
export function niceStep(max: number, target = 4): number {
  if (!(max > 0)) return 1;
  const rough = max / target;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= rough) ?? 10 * power;
  return step;
}

export interface ChartText {
  /** The chart's name (the SVG's title). */
  title: string;
  /** One sentence for screen readers (the SVG's description). */
  description: string;
  formatPeriod: (period: string, unit: PeriodUnit) => string;
  formatValue: (value: number) => string;
}

const WIDTH = 720;
const HEIGHT = 240;
const LEFT = 64;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 34;

const num = (n: number): string => String(Math.round(n * 10) / 10);

/**
 * The SVG of a stacked bar chart. `id` must be unique on the page (it names the title and description).
 * Series are drawn with classes `s0`, `s1`... for the page's CSS to colour.
 */
export function renderBarChart(id: string, series: readonly ChartSeries[], text: ChartText): string {
  const periods = periodsOf(series);
  const columns = series.map((s) => valuesIn(s, periods));
  const n = periods.periods.length;
  const totals = periods.periods.map((_, i) => columns.reduce((sum, col) => sum + (col[i] ?? 0), 0));
  const max = Math.max(0, ...totals);
  const step = niceStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const y = (v: number) => TOP + plotH - (v / top) * plotH;
  const slot = n > 0 ? plotW / n : plotW;
  const barW = Math.max(1, slot * 0.72);
  const parts: string[] = [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="${id}-title ${id}-desc" xmlns="http://www.w3.org/2000/svg">`,
    `<title id="${id}-title">${escapeHtml(text.title)}</title>`,
    `<desc id="${id}-desc">${escapeHtml(text.description)}</desc>`,
  ];
  for (let v = 0; v <= top; v += step) {
    parts.push(
      `<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${num(y(v))}" y2="${num(y(v))}"/>` +
        `<text class="axis" x="${LEFT - 6}" y="${num(y(v) + 4)}" text-anchor="end">${escapeHtml(text.formatValue(v))}</text>`,
    );
  }
  // Label every k-th bar, so that labels (about 7 px a Latin character, 12 a CJK one) never overlap.
  const labelWidth = Math.max(
    0,
    ...periods.periods.map((p) =>
      [...text.formatPeriod(p, periods.unit)].reduce((w, ch) => w + (ch.charCodeAt(0) > 0x2e7f ? 12 : 7), 8),
    ),
  );
  const every = Math.max(1, Math.ceil(labelWidth / slot));
  periods.periods.forEach((period, i) => {
    const x = LEFT + i * slot + (slot - barW) / 2;
    let base = 0;
    columns.forEach((col, s) => {
      const value = col[i] ?? 0;
      if (value <= 0) return;
      const label = `${series[s]?.label ?? ''}, ${text.formatPeriod(period, periods.unit)}: ${text.formatValue(value)}`;
      parts.push(
        `<rect class="s${s}" x="${num(x)}" y="${num(y(base + value))}" width="${num(barW)}" height="${num(y(base) - y(base + value))}"><title>${escapeHtml(label)}</title></rect>`,
      );
      base += value;
    });
    if (i % every === 0) {
      // A label at either end is anchored to stay inside the picture.
      const centre = x + barW / 2;
      const [at, anchor] =
        centre + labelWidth / 2 > WIDTH
          ? [WIDTH - 1, 'end']
          : centre - labelWidth / 2 < 0
            ? [1, 'start']
            : [centre, 'middle'];
      parts.push(
        `<text class="axis" x="${num(at)}" y="${HEIGHT - BOTTOM + 18}" text-anchor="${anchor}">${escapeHtml(text.formatPeriod(period, periods.unit))}</text>`,
      );
    }
  });
  parts.push(
    `<line class="base" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${num(y(0))}" y2="${num(y(0))}"/></svg>`,
  );
  return parts.join('');
}
