/**
 * Other people's access-log lines for the log benchmarks (scripts/bench-log-index.ts,
 * scripts/bench-logs-scale.ts): about 300-byte JSON lines from many users with a skewed activity (a few
 * make most requests, as on a real platform), a share of signed-out lines carrying only a device id,
 * varied addresses, paths and agents.
 */
const AGENTS = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) MetaverseApp/4.12.0',
  'Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'MetaverseApp/4.12.0 (Quest 3; HorizonOS 69)',
];
const PATHS = ['/api/v1/worlds/', '/api/v1/avatars/', '/api/v1/chat/rooms/', '/api/v1/shop/items/', '/live/'];
const COUNTRIES = [
  ['KR', 'KR-11'],
  ['JP', 'JP-13'],
  ['US', 'US-CA'],
  ['DE', 'DE-BE'],
] as const;

export interface OthersLinesOptions {
  /** How many users the lines come from. */
  users: number;
  /** Share of signed-out lines (no user id, a device id). */
  signedOut: number;
}

/** One line of someone else on `day` (YYYY-MM-DD), drawn from `random`. */
export function othersAccessLine(random: () => number, day: string, options: OthersLinesOptions): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  // A few users make most of the requests: index = users * r^3.
  const user = Math.floor(options.users * random() ** 3);
  const signedOut = random() < options.signedOut;
  const [country, region] = pick(COUNTRIES);
  const octet = () => Math.floor(random() * 256);
  return JSON.stringify({
    ts: new Date(Date.parse(`${day}T00:00:00Z`) + Math.floor(random() * 86_400_000)).toISOString(),
    userId: signedOut ? null : `u-${user.toString(36)}`,
    ip: `${10 + Math.floor(random() * 200)}.${octet()}.${octet()}.${octet()}`,
    deviceId: `dev-${user.toString(36)}-${Math.floor(random() * 3)}`,
    userAgent: pick(AGENTS),
    method: random() < 0.8 ? 'GET' : 'POST',
    path: `${pick(PATHS)}${Math.floor(random() * 100_000).toString(36)}?ref=${Math.floor(random() * 1e6).toString(36)}`,
    status: random() < 0.9 ? 200 : pick([304, 404, 500]),
    referrer: random() < 0.5 ? null : `https://example.com/${Math.floor(random() * 1000)}`,
    country,
    region,
  });
}
