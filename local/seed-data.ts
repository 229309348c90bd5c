/**
 * The demo data set, as pure data: deterministic (fixed ids, dates relative to a reference date, a seeded
 * generator), shaped exactly as ../shared/stores.md says, and full of the cases connectors must get right.
 * `seed.ts` writes it; tests count against `demoFixture()`, which is computed from this data, never typed in.
 */
import { gzipSync } from 'node:zlib';
import { platformStores } from '../config/data-map';

export const DEMO_REFERENCE_DATE = '2026-11-01T00:00:00.000Z';

export const DEMO_USER_IDS = [
  'u-alice',
  'u-bob',
  'u-carol',
  'u-dave',
  'u-erin',
  'u-minnie',
  'u-frank',
  'u-frank2',
] as const;
export type DemoUserId = (typeof DEMO_USER_IDS)[number];

// ---------------------------------------------------------------------------------------------------
// Store shapes (stores.md)

export interface ExternalAccount {
  provider: string;
  providerUserId: string;
  accessToken: string;
  linkedAt: string;
}
export interface Device {
  deviceId: string;
  platform: string;
  firstSeen: string;
  lastSeen: string;
}
export interface AccountItem {
  userId: string;
  email?: string;
  phone?: string;
  name?: { first: string; last: string };
  nickname?: string;
  postalCode?: string;
  address?: string;
  birthday?: string;
  gender?: string;
  country?: string;
  locale?: string;
  createdAt: string;
  status: 'active' | 'deleted';
  deletedAt?: string;
  externalAccounts?: ExternalAccount[];
  devices?: Device[];
  guardianUserId?: string;
  bankAccount?: {
    bankName: string;
    branch: string;
    accountType: string;
    accountNumber: string;
    holderName: string;
  };
  consents?: { marketingEmail: boolean; personalizedAds: boolean; updatedAt: string };
  passwordHash?: string;
  /** The service the account belongs to (config/services/); absent: the deployment's default service. */
  service?: string;
}
export interface PaymentItem {
  userId: string;
  sk: string;
  txnId: string;
  txnAt: string;
  type: 'purchase' | 'refund' | 'subscription' | 'payout';
  amount: number;
  currency: string;
  item?: { sku: string; title: string };
  status: string;
  card?: { brand: string; last4: string; expMonth: number; expYear: number };
  processor: string;
  processorRef: string;
  billingAddress?: string;
  /** Legacy rows only: must never leave the store unmasked. */
  cardNumber?: string;
  cvc?: string;
  /** Not in stores.md: an attribute connectors do not know and must export as it is. */
  originalTxnId?: string;
}
export interface ChatRoomItem {
  roomId: string;
  kind: 'public-world' | 'private-world' | 'direct';
  worldId?: string;
  /** Written as a DynamoDB string set (SS). */
  members: Set<string>;
  createdAt: string;
}
export interface ChatMessageItem {
  roomId: string;
  sk: string;
  messageId: string;
  sentAt: string;
  senderId: string;
  body: string;
  attachments?: { key: string; contentType: string; bytes: number }[];
  mentions?: string[];
  reports?: { reportedBy: string; reason: string; at: string }[];
}
export interface MarketingEventItem {
  userId: string;
  sk: string;
  eventId: string;
  at: string;
  kind:
    | 'email-delivered'
    | 'email-opened'
    | 'email-clicked'
    | 'sweepstakes-entry'
    | 'campaign-entry'
    | 'survey-response';
  campaignId: string;
  messageId?: string;
  ip?: string;
  userAgent?: string;
  url?: string;
  details?: Record<string, unknown>;
  /** Not in stores.md: a secret an old mailer stored, which must never be exported. */
  unsubscribeToken?: string;
}
export interface DemoObject {
  bucket: string;
  key: string;
  body: Buffer;
  contentType: string;
  metadata?: Record<string, string>;
}
export interface AccessLogLine {
  ts: string;
  userId: string | null;
  ip: string;
  deviceId: string | null;
  userAgent: string;
  method: string;
  path: string;
  status: number;
  referrer: string | null;
  country: string;
  region: string;
}
export interface VoiceSessionLine {
  sessionId: string;
  worldId: string;
  startedAt: string;
  endedAt: string;
  participants: { userId: string; ip: string; joinedAt: string; leftAt: string }[];
}
export type LogObject =
  | { bucket: string; key: string; kind: 'access'; lines: AccessLogLine[] }
  | { bucket: string; key: string; kind: 'voice-sessions'; lines: VoiceSessionLine[] };

export interface DemoData {
  referenceDate: string;
  accounts: AccountItem[];
  payments: PaymentItem[];
  rooms: ChatRoomItem[];
  messages: ChatMessageItem[];
  /** Media bucket objects, chat attachments included. */
  mediaObjects: DemoObject[];
  logObjects: LogObject[];
  marketingEvents: MarketingEventItem[];
}

// ---------------------------------------------------------------------------------------------------
// Helpers

const DAY_MS = 86_400_000;

/** Deterministic generator (mulberry32): the same seed always yields the same data set. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function intBetween(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function hex(random: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 16).toString(16);
  return out;
}

function bytes(random: () => number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** A clock anchored on the reference date: `at(3, '14:05:09')` is three days before, at that UTC time. */
export function clockAt(referenceDate: string) {
  const ref = Date.parse(referenceDate);
  if (Number.isNaN(ref)) throw new Error('Invalid reference date');
  const midnight = Math.floor(ref / DAY_MS) * DAY_MS;
  return {
    at(daysBefore: number, time = '09:00:00'): string {
      const [h = 0, m = 0, s = 0] = time.split(':').map(Number);
      return new Date(midnight - daysBefore * DAY_MS + ((h * 60 + m) * 60 + s) * 1000).toISOString();
    },
    day(daysBefore: number): string {
      return new Date(midnight - daysBefore * DAY_MS).toISOString().slice(0, 10);
    },
    plusSeconds(iso: string, seconds: number): string {
      return new Date(Date.parse(iso) + seconds * 1000).toISOString();
    },
  };
}

export function gzipLines(lines: readonly unknown[]): Buffer {
  return gzipSync(Buffer.from(lines.map((line) => JSON.stringify(line)).join('\n') + '\n', 'utf8'));
}

/** A minimal, structurally valid VRM 1.0 (glTF binary) whose metadata names its author. */
function vrmFile(name: string, author: string): Buffer {
  const json = Buffer.from(
    JSON.stringify({
      asset: { version: '2.0', generator: 'dsr-demo-seed' },
      extensionsUsed: ['VRMC_vrm'],
      extensions: {
        VRMC_vrm: { specVersion: '1.0', meta: { name, version: '1.0', authors: [author], licenseUrl: '' } },
      },
    }),
    'utf8',
  );
  const padded = Buffer.concat([json, Buffer.alloc((4 - (json.length % 4)) % 4, 0x20)]);
  const header = Buffer.alloc(20);
  header.writeUInt32LE(0x46546c67, 0); // "glTF"
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(20 + padded.length, 8);
  header.writeUInt32LE(padded.length, 12);
  header.writeUInt32LE(0x4e4f534a, 16); // "JSON"
  return Buffer.concat([header, padded]);
}

/** An Ogg page signature followed by noise: a stand-in for a voice clip, not decodable audio. */
function oggClip(random: () => number, length: number): Buffer {
  return Buffer.concat([Buffer.from('OggS\u0000\u0002', 'latin1'), bytes(random, length)]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** JPEG markers around an EXIF block carrying a GPS position (the location a photo leaks). */
function jpegWithGps(latitude: [number, number, number], longitude: [number, number, number]): Buffer {
  const tiff = Buffer.alloc(128);
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  // IFD0: one entry, GPSInfo -> GPS IFD at 26.
  tiff.writeUInt16LE(1, 8);
  tiff.writeUInt16LE(0x8825, 10);
  tiff.writeUInt16LE(4, 12);
  tiff.writeUInt32LE(1, 14);
  tiff.writeUInt32LE(26, 18);
  tiff.writeUInt32LE(0, 22);
  // GPS IFD: four entries, rationals stored from offset 80.
  const entries: [number, number, number, number | string][] = [
    [0x0001, 2, 2, 'N'],
    [0x0002, 5, 3, 80],
    [0x0003, 2, 2, 'E'],
    [0x0004, 5, 3, 104],
  ];
  tiff.writeUInt16LE(entries.length, 26);
  entries.forEach(([tag, type, count, value], i) => {
    const at = 28 + i * 12;
    tiff.writeUInt16LE(tag, at);
    tiff.writeUInt16LE(type, at + 2);
    tiff.writeUInt32LE(count, at + 4);
    if (typeof value === 'string') tiff.write(value, at + 8, 'latin1');
    else tiff.writeUInt32LE(value, at + 8);
  });
  tiff.writeUInt32LE(0, 28 + entries.length * 12);
  [...latitude, ...longitude].forEach((value, i) => {
    tiff.writeUInt32LE(Math.round(value * 100), 80 + i * 8);
    tiff.writeUInt32LE(100, 84 + i * 8);
  });
  const exif = Buffer.concat([Buffer.from('Exif\u0000\u0000', 'latin1'), tiff]);
  const app1 = Buffer.alloc(4);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(exif.length + 2, 2);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app1, exif, Buffer.from([0xff, 0xd9])]);
}

/** A small valid one-page PDF (ASCII text only: the standard fonts have no Hangul). */
function pdfFile(text: string): Buffer {
  const content = `BT /F1 14 Tf 72 770 Td (${text.replace(/[()\\]/g, '\\$&')}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xrefAt = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

// ---------------------------------------------------------------------------------------------------
// People

interface Persona {
  userId: DemoUserId;
  ips: string[];
  country: string;
  region: string;
  devices: { deviceId: string; platform: string }[];
}

const USER_AGENTS: Record<string, string> = {
  ios: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MetaverseApp/4.12.0',
  android:
    'Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.86 Mobile Safari/537.36 MetaverseApp/4.12.0',
  quest:
    'Mozilla/5.0 (X11; Linux x86_64; Quest 3) AppleWebKit/537.36 (KHTML, like Gecko) OculusBrowser/35.2.0 Chrome/126.0.6478.122 VR Safari/537.36',
  windows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  macos:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15',
};

// Addresses come from the documentation ranges (RFC 5737, RFC 3849): realistic shape, nobody's address.
const PERSONAS: Persona[] = [
  {
    userId: 'u-alice',
    ips: ['203.0.113.24', '2001:db8:4a1::24'],
    country: 'KR',
    region: 'KR-11',
    devices: [
      { deviceId: 'dev-alice-phone', platform: 'ios' },
      { deviceId: 'dev-alice-quest', platform: 'quest' },
      { deviceId: 'dev-alice-pc', platform: 'windows' },
    ],
  },
  {
    userId: 'u-bob',
    ips: ['198.51.100.7'],
    country: 'JP',
    region: 'JP-13',
    devices: [{ deviceId: 'dev-bob-android', platform: 'android' }],
  },
  {
    userId: 'u-carol',
    ips: ['192.0.2.15', '2001:db8:c0a::15'],
    country: 'US',
    region: 'US-CA',
    devices: [{ deviceId: 'dev-carol-mac', platform: 'macos' }],
  },
  {
    userId: 'u-dave',
    ips: ['203.0.113.88'],
    country: 'KR',
    region: 'KR-26',
    devices: [{ deviceId: 'dev-dave-phone', platform: 'android' }],
  },
  {
    userId: 'u-minnie',
    ips: ['203.0.113.89'],
    country: 'KR',
    region: 'KR-26',
    devices: [{ deviceId: 'dev-minnie-tablet', platform: 'ios' }],
  },
  {
    userId: 'u-frank',
    ips: ['198.51.100.33'],
    country: 'JP',
    region: 'JP-27',
    devices: [{ deviceId: 'dev-frank-phone', platform: 'ios' }],
  },
  {
    userId: 'u-frank2',
    ips: ['198.51.100.33'],
    country: 'JP',
    region: 'JP-27',
    devices: [{ deviceId: 'dev-frank-phone', platform: 'ios' }],
  },
];

function persona(userId: DemoUserId): Persona {
  const found = PERSONAS.find((p) => p.userId === userId);
  if (!found) throw new Error(`No persona for ${userId}`);
  return found;
}

/** The phone number two accounts share: resolving it must refuse, never merge. */
export const SHARED_PHONE = '+817011112222';

function buildAccounts(clock: ReturnType<typeof clockAt>): AccountItem[] {
  const { at } = clock;
  const devices = (userId: DemoUserId, firstSeenDaysBefore: number): Device[] =>
    persona(userId).devices.map((device, i) => ({
      ...device,
      firstSeen: at(firstSeenDaysBefore - i * 30, '10:12:00'),
      lastSeen: at(1 + i, '21:40:00'),
    }));
  return [
    {
      userId: 'u-alice',
      email: 'seoyeon.kim@example.com',
      phone: '+821024681357',
      name: { first: '서연', last: '김' },
      nickname: 'alice_sy',
      postalCode: '06236',
      address: '서울특별시 강남구 테헤란로 152, 12층 1203호',
      birthday: '03-14',
      gender: 'female',
      country: 'KR',
      locale: 'ko-KR',
      createdAt: at(912, '08:31:07'),
      status: 'active',
      externalAccounts: [
        {
          provider: 'google',
          providerUserId: '104857392018475629301',
          accessToken: 'ya29.a0AfB_demo-alice-google-7f3a9c',
          linkedAt: at(910, '08:40:00'),
        },
        {
          provider: 'line',
          providerUserId: 'U4af4980629b1f7e3c2d0a9e8b7c6d5e4',
          accessToken: 'eyJhbGciOiJIUzI1NiJ9.demo-alice-line.c2lnbmF0dXJl',
          linkedAt: at(300, '19:02:11'),
        },
      ],
      devices: devices('u-alice', 900),
      bankAccount: {
        bankName: 'KB국민은행',
        branch: '역삼역지점',
        accountType: 'checking',
        accountNumber: '004-24-0198-231',
        holderName: '김서연',
      },
      consents: { marketingEmail: true, personalizedAds: false, updatedAt: at(45, '12:00:00') },
      passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$ZGVtby1zYWx0LWFsaWNl$1b2x6Qm9rS0pXcE1yN3VZd2hQZ1JzVQ',
    },
    {
      userId: 'u-bob',
      email: 'kenji.sato@example.jp',
      phone: '+819012345678',
      name: { first: '健司', last: '佐藤' },
      nickname: 'bob_kenji',
      postalCode: '150-0002',
      address: '東京都渋谷区渋谷2-21-1 渋谷ヒカリエ 15F',
      birthday: '11-02',
      gender: 'male',
      country: 'JP',
      locale: 'ja-JP',
      createdAt: at(700, '02:15:44'),
      status: 'active',
      externalAccounts: [
        {
          provider: 'apple',
          providerUserId: '001234.5f6e7d8c9b0a4f3e2d1c.0456',
          accessToken: 'demo-bob-apple-token',
          linkedAt: at(700, '02:20:00'),
        },
      ],
      devices: devices('u-bob', 690),
      consents: { marketingEmail: false, personalizedAds: false, updatedAt: at(690, '02:20:00') },
      passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$ZGVtby1zYWx0LWJvYg$a2VuamlzYXRvZGVtb2hhc2g',
    },
    {
      userId: 'u-carol',
      email: 'carol.johnson@example.com',
      phone: '+14155550142',
      name: { first: 'Carol', last: 'Johnson' },
      nickname: 'carolj',
      postalCode: '94107',
      address: '500 Brannan St, Apt 4B, San Francisco, CA',
      birthday: '07-30',
      gender: 'female',
      country: 'US',
      locale: 'en-US',
      createdAt: at(400, '17:45:00'),
      status: 'active',
      devices: devices('u-carol', 400),
      consents: { marketingEmail: true, personalizedAds: true, updatedAt: at(400, '17:45:00') },
      passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$ZGVtby1zYWx0LWNhcm9s$Y2Fyb2xqb2huc29uZGVtb2hhc2g',
    },
    {
      userId: 'u-dave',
      email: 'dohyun.park@example.co.kr',
      phone: '+821098765432',
      name: { first: '도현', last: '박' },
      nickname: 'dave_park',
      postalCode: '48058',
      address: '부산광역시 해운대구 해운대해변로 264',
      birthday: '05-05',
      gender: 'male',
      country: 'KR',
      locale: 'ko-KR',
      createdAt: at(650, '11:11:11'),
      status: 'active',
      devices: devices('u-dave', 640),
      consents: { marketingEmail: false, personalizedAds: true, updatedAt: at(100, '09:00:00') },
      passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$ZGVtby1zYWx0LWRhdmU$ZG9oeXVucGFya2RlbW9oYXNo',
    },
    // An old account: only the attributes it had when it was created (any attribute may be missing).
    {
      userId: 'u-erin',
      email: 'eri.yamada@example.jp',
      nickname: 'erin',
      country: 'JP',
      createdAt: at(2200, '05:00:00'),
      status: 'active',
    },
    {
      userId: 'u-minnie',
      email: 'minji.park@example.co.kr',
      name: { first: '민지', last: '박' },
      nickname: 'minnie',
      birthday: '07-22',
      gender: 'female',
      country: 'KR',
      locale: 'ko-KR',
      createdAt: at(200, '16:30:00'),
      status: 'active',
      guardianUserId: 'u-dave',
      devices: devices('u-minnie', 200),
      consents: { marketingEmail: false, personalizedAds: false, updatedAt: at(200, '16:30:00') },
      passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$ZGVtby1zYWx0LW1pbm5pZQ$bWluamlwYXJrZGVtb2hhc2g',
    },
    {
      userId: 'u-frank',
      email: 'bunta.tanaka@example.jp',
      phone: SHARED_PHONE,
      name: { first: '文太', last: '田中' },
      nickname: 'frank',
      country: 'JP',
      locale: 'ja-JP',
      createdAt: at(500, '13:00:00'),
      status: 'active',
      devices: devices('u-frank', 500),
    },
    // Same phone, another account (a second sign-up, or a family phone): never merged with u-frank.
    {
      userId: 'u-frank2',
      email: 'frank.tanaka.work@example.com',
      phone: SHARED_PHONE,
      name: { first: 'Frank', last: 'Tanaka' },
      nickname: 'frank_work',
      country: 'JP',
      locale: 'en-US',
      createdAt: at(120, '01:23:45'),
      status: 'active',
      devices: devices('u-frank2', 120),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------
// Payments

function buildPayments(clock: ReturnType<typeof clockAt>, random: () => number): PaymentItem[] {
  const { at } = clock;
  const rows: PaymentItem[] = [];
  const counters = new Map<string, number>();
  const add = (
    userId: DemoUserId,
    daysBefore: number,
    time: string,
    fields: Omit<PaymentItem, 'userId' | 'sk' | 'txnId' | 'txnAt' | 'processor' | 'processorRef'> &
      Partial<Pick<PaymentItem, 'processor'>>,
  ): PaymentItem => {
    const n = (counters.get(userId) ?? 0) + 1;
    counters.set(userId, n);
    const txnId = `txn-${userId.slice(2)}-${String(n).padStart(4, '0')}`;
    const txnAt = at(daysBefore, time);
    const row: PaymentItem = {
      userId,
      sk: `${txnAt}#${txnId}`,
      txnId,
      txnAt,
      processor: 'sony-payment-services',
      processorRef: `sps_${hex(random, 24)}`,
      ...fields,
    };
    rows.push(row);
    return row;
  };
  const aliceCard = { brand: 'visa', last4: '4242', expMonth: 8, expYear: 2029 };
  const aliceBilling = '서울특별시 강남구 테헤란로 152, 12층 1203호, 06236';

  add('u-alice', 210, '13:04:55', {
    type: 'purchase',
    amount: 12000,
    currency: 'KRW',
    item: { sku: 'avatar-hanbok-01', title: '한복 아바타 의상' },
    status: 'succeeded',
    card: aliceCard,
    billingAddress: aliceBilling,
  });
  add('u-alice', 120, '20:15:02', {
    type: 'purchase',
    amount: 5500,
    currency: 'KRW',
    item: { sku: 'world-pass-sakura-2026', title: 'Sakura Plaza 시즌 패스' },
    status: 'succeeded',
    card: aliceCard,
    billingAddress: aliceBilling,
  });
  const refunded = add('u-alice', 40, '22:48:10', {
    type: 'purchase',
    amount: 3300,
    currency: 'KRW',
    item: { sku: 'music-stock-track-0412', title: 'Lo-fi 서울 야경 (음원)' },
    status: 'refunded',
    card: aliceCard,
    billingAddress: aliceBilling,
  });
  add('u-alice', 38, '09:01:30', {
    type: 'refund',
    amount: 3300,
    currency: 'KRW',
    item: { sku: 'music-stock-track-0412', title: 'Lo-fi 서울 야경 (음원)' },
    status: 'succeeded',
    card: aliceCard,
    originalTxnId: refunded.txnId,
  });
  for (const daysBefore of [125, 95, 65, 35, 5]) {
    add('u-alice', daysBefore, '00:00:05', {
      type: 'subscription',
      amount: 9900,
      currency: 'KRW',
      item: { sku: 'fanclub-premium-monthly', title: '팬클럽 프리미엄 (월간)' },
      status: 'succeeded',
      card: aliceCard,
      billingAddress: aliceBilling,
    });
  }
  for (const [daysBefore, amount] of [
    [61, 185000],
    [31, 212400],
  ] as const) {
    add('u-alice', daysBefore, '03:00:00', { type: 'payout', amount, currency: 'KRW', status: 'paid' });
  }
  // A legacy row from before card data was tokenised: full number and CVC still in the item.
  add('u-alice', 2100, '18:22:41', {
    type: 'purchase',
    amount: 11000,
    currency: 'KRW',
    item: { sku: 'coin-pack-1000', title: '코인 1000개' },
    status: 'succeeded',
    card: { brand: 'visa', last4: '1111', expMonth: 12, expYear: 2022 },
    processor: 'legacy-pg',
    cardNumber: '4111111111111111',
    cvc: '737',
  });

  const bobCard = { brand: 'jcb', last4: '0505', expMonth: 3, expYear: 2028 };
  add('u-bob', 150, '12:30:00', {
    type: 'purchase',
    amount: 1200,
    currency: 'JPY',
    item: { sku: 'avatar-yukata-02', title: '浴衣アバター' },
    status: 'succeeded',
    card: bobCard,
    billingAddress: '東京都渋谷区渋谷2-21-1',
  });
  for (const daysBefore of [70, 40, 10]) {
    add('u-bob', daysBefore, '00:00:07', {
      type: 'subscription',
      amount: 980,
      currency: 'JPY',
      item: { sku: 'fanclub-basic-monthly', title: 'ファンクラブ ベーシック（月額）' },
      status: 'succeeded',
      card: bobCard,
    });
  }
  add('u-carol', 80, '18:00:00', {
    type: 'purchase',
    amount: 499,
    currency: 'USD',
    item: { sku: 'emote-pack-05', title: 'Emote pack: Cheers' },
    status: 'succeeded',
    card: { brand: 'mastercard', last4: '4444', expMonth: 11, expYear: 2027 },
    billingAddress: '500 Brannan St, Apt 4B, San Francisco, CA 94107',
  });
  add('u-carol', 20, '18:05:00', {
    type: 'purchase',
    amount: 1999,
    currency: 'USD',
    item: { sku: 'music-stock-album-11', title: 'Album: Night Drive' },
    status: 'failed',
    card: { brand: 'mastercard', last4: '4444', expMonth: 11, expYear: 2027 },
  });
  add('u-dave', 60, '07:45:00', {
    type: 'purchase',
    amount: 25000,
    currency: 'KRW',
    item: { sku: 'world-land-plot-07', title: '월드 부지 #07' },
    status: 'succeeded',
    card: { brand: 'bc', last4: '7766', expMonth: 6, expYear: 2030 },
  });
  add('u-minnie', 14, '16:10:00', {
    type: 'purchase',
    amount: 1000,
    currency: 'KRW',
    item: { sku: 'sticker-pack-cat', title: '고양이 스티커' },
    status: 'succeeded',
    card: { brand: 'bc', last4: '7766', expMonth: 6, expYear: 2030 },
  });
  add('u-frank', 90, '08:00:00', {
    type: 'purchase',
    amount: 3000,
    currency: 'JPY',
    item: { sku: 'coin-pack-300', title: 'コイン300枚' },
    status: 'succeeded',
    card: { brand: 'visa', last4: '0009', expMonth: 1, expYear: 2027 },
  });
  add('u-frank2', 12, '08:30:00', {
    type: 'purchase',
    amount: 600,
    currency: 'JPY',
    item: { sku: 'emote-pack-01', title: 'Emote pack: Wave' },
    status: 'succeeded',
    card: { brand: 'visa', last4: '0009', expMonth: 1, expYear: 2027 },
  });
  return rows;
}

// ---------------------------------------------------------------------------------------------------
// Chat

export const LARGE_MESSAGE_BYTES = 390 * 1024;

function largeBody(): string {
  const paragraph =
    '여행 일기 — 부산 해운대에서 친구들과 하루 종일 걸었다. The sea was loud and the sky was orange. ' +
    '夕方にはみんなで屋台に行った。\n';
  const unit = Buffer.byteLength(paragraph, 'utf8');
  let body = paragraph.repeat(Math.floor(LARGE_MESSAGE_BYTES / unit));
  body += 'x'.repeat(LARGE_MESSAGE_BYTES - Buffer.byteLength(body, 'utf8'));
  return body;
}

function buildChat(clock: ReturnType<typeof clockAt>): {
  rooms: ChatRoomItem[];
  messages: ChatMessageItem[];
  attachments: DemoObject[];
} {
  const { at } = clock;
  const media = platformStores.media.bucketName;
  const rooms: ChatRoomItem[] = [
    {
      roomId: 'room-dm-alice-bob',
      kind: 'direct',
      members: new Set(['u-alice', 'u-bob']),
      createdAt: at(300, '11:00:00'),
    },
    {
      roomId: 'room-world-sakura-plaza',
      kind: 'public-world',
      worldId: 'world-sakura-plaza',
      members: new Set(['u-alice', 'u-bob', 'u-carol', 'u-dave']),
      createdAt: at(500, '00:00:00'),
    },
    {
      roomId: 'room-world-hanok-village',
      kind: 'private-world',
      worldId: 'world-hanok-village',
      members: new Set(['u-bob', 'u-carol']),
      createdAt: at(90, '15:00:00'),
    },
    {
      roomId: 'room-dm-dave-minnie',
      kind: 'direct',
      members: new Set(['u-dave', 'u-minnie']),
      createdAt: at(180, '19:00:00'),
    },
    {
      roomId: 'room-world-tokyo-night',
      kind: 'public-world',
      worldId: 'world-tokyo-night',
      members: new Set(['u-frank', 'u-frank2', 'u-bob']),
      createdAt: at(400, '12:00:00'),
    },
  ];

  const messages: ChatMessageItem[] = [];
  const attachments: DemoObject[] = [];
  let sequence = 0;
  const say = (
    roomId: string,
    senderId: DemoUserId,
    daysBefore: number,
    time: string,
    body: string,
    extra: Pick<ChatMessageItem, 'mentions' | 'reports'> & {
      attachment?: { filename: string; contentType: string; body: Buffer };
    } = {},
  ): ChatMessageItem => {
    sequence += 1;
    const messageId = `msg-${String(sequence).padStart(4, '0')}`;
    const sentAt = at(daysBefore, time);
    const message: ChatMessageItem = {
      roomId,
      sk: `${sentAt}#${messageId}`,
      messageId,
      sentAt,
      senderId,
      body,
    };
    if (extra.attachment) {
      const key = `${platformStores.media.chatAttachmentsPrefix}${roomId}/${messageId}/${extra.attachment.filename}`;
      message.attachments = [
        { key, contentType: extra.attachment.contentType, bytes: extra.attachment.body.length },
      ];
      attachments.push({
        bucket: media,
        key,
        body: extra.attachment.body,
        contentType: extra.attachment.contentType,
        metadata: { 'user-id': senderId },
      });
    }
    if (extra.mentions) message.mentions = extra.mentions;
    if (extra.reports) message.reports = extra.reports;
    messages.push(message);
    return message;
  };

  const dm = 'room-dm-alice-bob';
  say(dm, 'u-bob', 9, '12:00:10', 'こんにちは！今夜ワールドに来る？');
  say(dm, 'u-alice', 9, '12:03:41', '응! 9시에 갈게 🙂 (yes, at nine)');
  say(dm, 'u-alice', 8, '01:15:00', largeBody());
  say(dm, 'u-bob', 8, '01:20:33', 'Wow, that is a long diary 😂 ありがとう');
  say(dm, 'u-alice', 2, '10:00:00', 'ㅋㅋ sorry. 다음 주에 부산 같이 가요?');

  const plaza = 'room-world-sakura-plaza';
  say(plaza, 'u-carol', 7, '11:00:00', '@alice welcome to Sakura Plaza! 🌸', { mentions: ['u-alice'] });
  say(plaza, 'u-alice', 7, '11:02:15', 'Thanks Carol! 해운대에서 찍은 사진이에요', {
    attachment: {
      filename: 'sunset.jpg',
      contentType: 'image/jpeg',
      body: jpegWithGps([35, 9, 31.32], [129, 9, 37.44]),
    },
  });
  say(plaza, 'u-dave', 7, '11:05:00', '@alice @bob 같이 단체 사진 찍어요!', {
    mentions: ['u-alice', 'u-bob'],
  });
  say(plaza, 'u-bob', 7, '11:06:30', '@alice その アバター 素敵だね', { mentions: ['u-alice'] });
  say(plaza, 'u-alice', 6, '23:59:59', 'cheap coins here → http://coins.example.net/?ref=alice !!!', {
    reports: [
      { reportedBy: 'u-carol', reason: 'spam', at: at(5, '00:10:00') },
      { reportedBy: 'u-dave', reason: 'scam-link', at: at(5, '00:12:30') },
    ],
  });
  say(plaza, 'u-carol', 5, '00:11:00', '@alice please do not post links like that', {
    mentions: ['u-alice'],
  });
  say(plaza, 'u-alice', 5, '08:30:00', 'sorry, my account was used by someone else 😢 비밀번호 바꿨어요');
  say(plaza, 'u-dave', 3, '20:00:00', 'Plaza event tonight at 9pm KST');

  const hanok = 'room-world-hanok-village';
  say(hanok, 'u-bob', 30, '14:00:00', '@carol the hanok roof looks great', { mentions: ['u-carol'] });
  say(hanok, 'u-carol', 30, '14:02:00', 'Thanks! Took me three evenings.');
  say(hanok, 'u-bob', 29, '09:00:00', 'Wanna visit Sakura Plaza later?');

  const family = 'room-dm-dave-minnie';
  say(family, 'u-dave', 4, '18:00:00', '민지야 숙제 다 했니?');
  say(family, 'u-minnie', 4, '18:02:00', '네 아빠! 30분만 더 놀게요 🙏');

  const tokyo = 'room-world-tokyo-night';
  say(tokyo, 'u-frank', 15, '13:00:00', '渋谷のワールド、夜景がきれい');
  say(tokyo, 'u-frank2', 12, '13:10:00', '@bob see you at the meetup', { mentions: ['u-bob'] });
  say(tokyo, 'u-bob', 12, '13:12:00', 'OK! 👍 @frank', { mentions: ['u-frank'] });

  // Attachments from others sit under the same prefix: a connector must not take them for alice's.
  say(hanok, 'u-carol', 28, '16:00:00', 'Floor plan', {
    attachment: {
      filename: 'floor-plan.pdf',
      contentType: 'application/pdf',
      body: pdfFile('Hanok floor plan'),
    },
  });
  return { rooms, messages, attachments };
}

// ---------------------------------------------------------------------------------------------------
// Media

function buildMedia(clock: ReturnType<typeof clockAt>, random: () => number): DemoObject[] {
  const { at, day } = clock;
  const media = platformStores.media.bucketName;
  const objects: DemoObject[] = [];
  const put = (userId: DemoUserId, key: string, body: Buffer, contentType: string) =>
    objects.push({ bucket: media, key, body, contentType, metadata: { 'user-id': userId } });
  const behavior = (userId: DemoUserId, daysBefore: number, worldId: string) => {
    const lines = Array.from({ length: 24 }, (_, i) => ({
      ts: clock.plusSeconds(at(daysBefore, '20:00:00'), i * 15),
      worldId,
      event: pick(random, ['move', 'move', 'gesture', 'emote', 'gaze']),
      position: {
        x: Math.round(random() * 2000) / 100,
        y: 0,
        z: Math.round(random() * 2000) / 100,
      },
      headYaw: Math.round(random() * 36000) / 100,
    }));
    put(userId, `behavior/${userId}/${day(daysBefore)}.jsonl.gz`, gzipLines(lines), 'application/gzip');
  };

  put('u-alice', 'avatars/u-alice/av-7c1e.vrm', vrmFile('Seoyeon hanbok', '김서연'), 'model/gltf-binary');
  put('u-alice', 'avatars/u-alice/av-9d02.vrm', vrmFile('Seoyeon casual', '김서연'), 'model/gltf-binary');
  put('u-alice', `voice/u-alice/${day(10)}/clip-0001.ogg`, oggClip(random, 4096), 'audio/ogg');
  put('u-alice', `voice/u-alice/${day(3)}/clip-0002.ogg`, oggClip(random, 6144), 'audio/ogg');
  behavior('u-alice', 10, 'world-sakura-plaza');
  behavior('u-alice', 3, 'world-sakura-plaza');
  // Hostile file names, exactly as a device might send them (see HOSTILE_UPLOAD_NAMES).
  HOSTILE_UPLOAD_NAMES.forEach((name, i) => {
    const fileId = `file-${String(i + 1).padStart(2, '0')}`;
    const body =
      name.kind === 'text'
        ? Buffer.from('Not a system file: the user named this upload like that.\n', 'utf8')
        : Buffer.concat([PNG_SIGNATURE, bytes(random, 512)]);
    put('u-alice', `uploads/u-alice/${fileId}/${name.name}`, body, name.contentType);
  });
  const next = HOSTILE_UPLOAD_NAMES.length;
  put(
    'u-alice',
    `uploads/u-alice/file-${String(next + 1).padStart(2, '0')}/IMG_2041.JPG`,
    jpegWithGps([35, 9, 31.32], [129, 9, 37.44]),
    'image/jpeg',
  );
  put(
    'u-alice',
    `uploads/u-alice/file-${String(next + 2).padStart(2, '0')}/임대차 계약서.pdf`,
    pdfFile('Lease agreement - Kim Seoyeon - Seoul'),
    'application/pdf',
  );

  put('u-bob', 'avatars/u-bob/av-b001.vrm', vrmFile('Kenji yukata', '佐藤健司'), 'model/gltf-binary');
  put('u-bob', `voice/u-bob/${day(9)}/clip-0001.ogg`, oggClip(random, 3072), 'audio/ogg');
  behavior('u-bob', 9, 'world-sakura-plaza');
  put(
    'u-bob',
    'uploads/u-bob/file-01/ラーメン.jpg',
    jpegWithGps([35, 39, 29.1], [139, 42, 1.5]),
    'image/jpeg',
  );
  put('u-carol', 'avatars/u-carol/av-c001.vrm', vrmFile('Carol', 'Carol Johnson'), 'model/gltf-binary');
  put('u-carol', 'uploads/u-carol/file-01/resume.pdf', pdfFile('Carol Johnson - Resume'), 'application/pdf');
  put('u-dave', 'avatars/u-dave/av-d001.vrm', vrmFile('Dohyun', '박도현'), 'model/gltf-binary');
  put('u-dave', `voice/u-dave/${day(7)}/clip-0001.ogg`, oggClip(random, 2048), 'audio/ogg');
  put('u-minnie', 'avatars/u-minnie/av-m001.vrm', vrmFile('Minji', '박민지'), 'model/gltf-binary');
  // `u-frank` is a prefix of `u-frank2`: a prefix without its trailing slash would mix them up.
  put(
    'u-frank',
    'uploads/u-frank/file-01/receipt.jpg',
    jpegWithGps([34, 41, 37.0], [135, 30, 5.0]),
    'image/jpeg',
  );
  put('u-frank2', 'uploads/u-frank2/file-01/passport.jpg', Buffer.concat([PNG_SIGNATURE]), 'image/png');
  return objects;
}

/**
 * Upload names a device really can send. No `.`/`..` segments: the local S3 refuses those (real S3 would
 * keep them verbatim; the archive-path sanitiser's unit tests cover that case).
 */
export const HOSTILE_UPLOAD_NAMES: readonly { name: string; kind: 'text' | 'image'; contentType: string }[] =
  [
    { name: '..\\..\\etc\\passwd', kind: 'text', contentType: 'text/plain' },
    { name: 'photo 😀 \u202Egpj.exe', kind: 'image', contentType: 'application/octet-stream' },
    { name: '100%25 real%2Fpath.png', kind: 'image', contentType: 'image/png' },
    { name: '2026\u221510\u221531 beach.png', kind: 'image', contentType: 'image/png' },
    { name: 'رحلة إلى سيول.png', kind: 'image', contentType: 'image/png' },
    { name: 'חופשה ב-טוקיו 🗼.png', kind: 'image', contentType: 'image/png' },
  ];

// ---------------------------------------------------------------------------------------------------
// Logs

const ACCESS_PATHS: readonly [string, string, number][] = [
  ['GET', '/api/v1/me', 200],
  ['GET', '/api/v1/worlds/world-sakura-plaza', 200],
  ['POST', '/api/v1/worlds/world-sakura-plaza/join', 201],
  ['GET', '/api/v1/shop/items?category=avatar', 200],
  ['POST', '/api/v1/chat/rooms/room-world-sakura-plaza/messages', 201],
  ['GET', '/api/v1/fanclub/posts?page=2', 200],
  ['GET', '/api/v1/music-stock/tracks/0412', 200],
  ['PUT', '/api/v1/me/avatar', 204],
  ['GET', '/api/v1/notifications', 304],
];
const ANONYMOUS_PATHS: readonly [string, string, number][] = [
  ['GET', '/', 200],
  ['GET', '/login', 200],
  ['POST', '/api/v1/auth/login', 401],
  ['GET', '/worlds/world-sakura-plaza', 200],
  ['GET', '/robots.txt', 200],
];
const REFERRERS: readonly (string | null)[] = [null, 'https://www.example.com/', 'https://t.co/demo', null];

/** Days with logs (days before the reference date); the last one is past the 3-month retention. */
export const LOG_DAYS = [1, 2, 3, 4, 5, 6, 7, 103] as const;

const ACTIVE_BY_DAY: Record<number, DemoUserId[]> = {
  1: ['u-alice', 'u-bob', 'u-carol', 'u-dave'],
  2: ['u-alice', 'u-bob', 'u-minnie', 'u-frank', 'u-frank2'],
  3: ['u-alice', 'u-carol', 'u-dave'],
  4: ['u-alice', 'u-bob', 'u-dave', 'u-minnie'],
  5: ['u-alice', 'u-carol', 'u-frank'],
  6: ['u-alice', 'u-bob', 'u-carol', 'u-dave', 'u-minnie'],
  7: ['u-alice', 'u-bob', 'u-carol', 'u-dave'],
  103: ['u-alice', 'u-bob'],
};

const VOICE_SESSIONS: readonly { daysBefore: number; worldId: string; users: DemoUserId[] }[] = [
  { daysBefore: 1, worldId: 'world-sakura-plaza', users: ['u-alice', 'u-bob'] },
  { daysBefore: 1, worldId: 'world-hanok-village', users: ['u-bob', 'u-carol'] },
  { daysBefore: 2, worldId: 'world-sakura-plaza', users: ['u-alice', 'u-bob', 'u-carol'] },
  { daysBefore: 3, worldId: 'world-sakura-plaza', users: ['u-bob', 'u-dave'] },
  { daysBefore: 4, worldId: 'world-sakura-plaza', users: ['u-alice', 'u-carol'] },
  { daysBefore: 5, worldId: 'world-hanok-village', users: ['u-carol', 'u-dave', 'u-minnie'] },
  { daysBefore: 6, worldId: 'world-tokyo-night', users: ['u-frank', 'u-bob'] },
  { daysBefore: 7, worldId: 'world-sakura-plaza', users: ['u-alice', 'u-bob', 'u-dave'] },
  { daysBefore: 103, worldId: 'world-sakura-plaza', users: ['u-alice', 'u-bob'] },
];

function buildLogs(clock: ReturnType<typeof clockAt>, random: () => number): LogObject[] {
  const { at, day } = clock;
  const bucket = platformStores.logs.bucketName;
  const objects: LogObject[] = [];
  const time = (seconds: number) =>
    `${String(Math.floor(seconds / 3600)).padStart(2, '0')}:${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;

  for (const daysBefore of LOG_DAYS) {
    const lines: AccessLogLine[] = [];
    for (const userId of ACTIVE_BY_DAY[daysBefore] ?? []) {
      const who = persona(userId);
      const count = intBetween(random, 2, 5);
      for (let i = 0; i < count; i++) {
        const device = pick(random, who.devices);
        const [method, urlPath, status] = pick(random, ACCESS_PATHS);
        lines.push({
          ts: at(daysBefore, time(intBetween(random, 0, 86_399))),
          userId,
          ip: pick(random, who.ips),
          deviceId: device.deviceId,
          userAgent: USER_AGENTS[device.platform] ?? USER_AGENTS.windows ?? '',
          method,
          path: urlPath,
          status,
          referrer: pick(random, REFERRERS),
          country: who.country,
          region: who.region,
        });
      }
    }
    const anonymous = intBetween(random, 3, 6);
    for (let i = 0; i < anonymous; i++) {
      const [method, urlPath, status] = pick(random, ANONYMOUS_PATHS);
      lines.push({
        ts: at(daysBefore, time(intBetween(random, 0, 86_399))),
        userId: null,
        ip: `192.0.2.${intBetween(random, 100, 250)}`,
        deviceId: random() < 0.5 ? null : `dev-anon-${hex(random, 8)}`,
        userAgent: pick(random, Object.values(USER_AGENTS)),
        method,
        path: urlPath,
        status,
        referrer: pick(random, REFERRERS),
        country: pick(random, ['KR', 'JP', 'US', 'DE']),
        region: pick(random, ['KR-11', 'JP-13', 'US-NY', 'DE-BE']),
      });
    }
    lines.sort((a, b) => a.ts.localeCompare(b.ts));
    const prefix = `${platformStores.logs.accessPrefix}dt=${day(daysBefore)}/`;
    // One day is split in two parts, as a busy day would be.
    if (daysBefore === 2) {
      const half = Math.ceil(lines.length / 2);
      objects.push({
        bucket,
        key: `${prefix}part-00000.jsonl.gz`,
        kind: 'access',
        lines: lines.slice(0, half),
      });
      objects.push({ bucket, key: `${prefix}part-00001.jsonl.gz`, kind: 'access', lines: lines.slice(half) });
    } else {
      objects.push({ bucket, key: `${prefix}part-00000.jsonl.gz`, kind: 'access', lines });
    }
  }

  const byDay = new Map<number, VoiceSessionLine[]>();
  VOICE_SESSIONS.forEach((session, i) => {
    const startedAt = at(session.daysBefore, `${String(19 + (i % 4)).padStart(2, '0')}:00:00`);
    const duration = intBetween(random, 600, 5400);
    const endedAt = clock.plusSeconds(startedAt, duration);
    const line: VoiceSessionLine = {
      sessionId: `vs-${day(session.daysBefore).replace(/-/g, '')}-${String(i + 1).padStart(2, '0')}`,
      worldId: session.worldId,
      startedAt,
      endedAt,
      participants: session.users.map((userId, j) => ({
        userId,
        ip: pick(random, persona(userId).ips),
        joinedAt: clock.plusSeconds(startedAt, j * 30),
        leftAt: clock.plusSeconds(endedAt, -j * 10),
      })),
    };
    byDay.set(session.daysBefore, [...(byDay.get(session.daysBefore) ?? []), line]);
  });
  for (const [daysBefore, lines] of byDay) {
    objects.push({
      bucket,
      key: `${platformStores.logs.voiceSessionsPrefix}dt=${day(daysBefore)}/part-00000.jsonl.gz`,
      kind: 'voice-sessions',
      lines,
    });
  }
  return objects;
}

// ---------------------------------------------------------------------------------------------------
// Marketing events (seed 001: e-mail arrival and opening, prize competitions, questionnaires)

/**
 * u-bob, like a PRISM Project member: a newsletter delivered, opened (with the mail program's IP and
 * user agent) and clicked, a sweepstakes entry with the prize's shipping details, and a survey answer.
 * u-alice (Korea): advertising e-mails, one older than the 6 months Korea keeps such records.
 */
function buildMarketing(clock: ReturnType<typeof clockAt>): MarketingEventItem[] {
  const { at } = clock;
  const event = (
    userId: DemoUserId,
    eventId: string,
    when: string,
    fields: Omit<MarketingEventItem, 'userId' | 'sk' | 'eventId' | 'at'>,
  ): MarketingEventItem => ({ userId, sk: `${when}#${eventId}`, eventId, at: when, ...fields });
  const newsletter = { campaignId: 'cmp-prism-2026-10', messageId: 'msg-prism-1001' };
  const opener = { ip: '203.0.113.77', userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mail' };
  return [
    event('u-bob', 'mev-b1', at(20, '08:00:00'), { kind: 'email-delivered', ...newsletter }),
    event('u-bob', 'mev-b2', at(20, '12:31:07'), { kind: 'email-opened', ...newsletter, ...opener }),
    event('u-bob', 'mev-b3', at(20, '12:33:40'), {
      kind: 'email-clicked',
      ...newsletter,
      ...opener,
      url: 'https://prism.example/live/2026-winter?utm_source=mail',
    }),
    event('u-bob', 'mev-b4', at(18, '19:02:11'), {
      kind: 'sweepstakes-entry',
      campaignId: 'cmp-prism-signed-poster',
      details: {
        prize: 'Signed poster',
        name: '佐藤 健司',
        address: '神奈川県横浜市西区みなとみらい2-4-6',
        phone: '+819098765432',
      },
    }),
    event('u-bob', 'mev-b5', at(15, '21:45:00'), {
      kind: 'survey-response',
      campaignId: 'cmp-prism-survey-2026',
      details: { answers: { q1: 'Live streams', q2: '5', q3: 'More English subtitles, please' } },
    }),
    event('u-alice', 'mev-a1', at(40, '09:00:00'), {
      kind: 'email-delivered',
      campaignId: 'cmp-klub-autumn',
      messageId: 'msg-klub-2001',
      unsubscribeToken: 'unsub-secret-3c2a91',
    }),
    event('u-alice', 'mev-a2', at(39, '22:10:05'), {
      kind: 'email-opened',
      campaignId: 'cmp-klub-autumn',
      messageId: 'msg-klub-2001',
      ip: '198.51.100.23',
      userAgent: 'Mozilla/5.0 (Windows NT 10.0) Thunderbird/128.0',
    }),
    // Older than 6 months: its retention period has ended, so erasure deletes it at once.
    event('u-alice', 'mev-a0', at(260, '09:00:00'), {
      kind: 'email-delivered',
      campaignId: 'cmp-klub-spring',
      messageId: 'msg-klub-1001',
    }),
  ];
}

// ---------------------------------------------------------------------------------------------------
// The data set and its fixture

export function buildDemoData(referenceDate: string = DEMO_REFERENCE_DATE): DemoData {
  const clock = clockAt(referenceDate);
  const random = seededRandom(20261101);
  const chat = buildChat(clock);
  return {
    referenceDate,
    accounts: buildAccounts(clock),
    payments: buildPayments(clock, random),
    rooms: chat.rooms,
    messages: chat.messages,
    mediaObjects: [...buildMedia(clock, random), ...chat.attachments],
    logObjects: buildLogs(clock, random),
    marketingEvents: buildMarketing(clock),
  };
}

/** The bytes of a log object as stored: gzip of JSON lines. */
export function logObjectBody(object: LogObject): Buffer {
  return gzipLines(object.lines);
}

export interface UserCounts {
  /** Items in payments under the user id. */
  payments: number;
  /** Chat rooms listing the user as a member. */
  chatRooms: number;
  /** Messages the user sent (bySender). */
  chatMessagesSent: number;
  /** Messages by others whose `mentions` name the user. */
  mentions: number;
  /** Reports filed against the user's messages. */
  reportsAgainst: number;
  /** Objects under the user's media prefixes (avatars, voice, uploads, behavior). */
  mediaObjects: number;
  /** Attachment objects of messages the user sent. */
  chatAttachments: number;
  /** Access-log lines carrying the user id. */
  accessLogLines: number;
  /** Voice sessions the user took part in. */
  voiceSessions: number;
  /** Items in marketing under the user id. */
  marketingEvents: number;
}

export interface DemoFixture {
  referenceDate: string;
  users: Record<DemoUserId, UserCounts>;
  totals: {
    accounts: number;
    payments: number;
    chatRooms: number;
    chatMessages: number;
    mediaObjects: number;
    logObjects: number;
    accessLogLines: number;
    signedOutLogLines: number;
    voiceSessions: number;
    marketingEvents: number;
  };
  cases: {
    mainSubject: 'u-alice';
    noDataUser: 'u-erin';
    minor: { userId: string; guardianUserId: string };
    sharedPhone: { phone: string; userIds: string[] };
    alice: { email: string; phone: string; deviceIds: string[]; externalAccountIds: string[] };
    largeMessage: { roomId: string; sk: string; bodyBytes: number };
    legacyCardRow: { userId: string; sk: string };
    reportedMessage: { roomId: string; sk: string };
    attachmentKey: string;
    hostileUploadKeys: string[];
    /** Log days older than the 3-month retention of internet log records. */
    expiredLogDays: string[];
  };
}

function mediaPrefixes(userId: string): string[] {
  return platformStores.media.subjectPrefixes.map((prefix) => prefix.replace('{userId}', userId));
}

export function describeDemoData(data: DemoData): DemoFixture {
  const accessLines = data.logObjects.flatMap((o) => (o.kind === 'access' ? o.lines : []));
  const sessions = data.logObjects.flatMap((o) => (o.kind === 'voice-sessions' ? o.lines : []));
  const count = <T>(items: readonly T[], predicate: (item: T) => boolean) => items.filter(predicate).length;

  const users = Object.fromEntries(
    DEMO_USER_IDS.map((userId): [DemoUserId, UserCounts] => {
      const prefixes = mediaPrefixes(userId);
      const sent = data.messages.filter((m) => m.senderId === userId);
      return [
        userId,
        {
          payments: count(data.payments, (p) => p.userId === userId),
          chatRooms: count(data.rooms, (r) => r.members.has(userId)),
          chatMessagesSent: sent.length,
          mentions: count(data.messages, (m) => m.senderId !== userId && (m.mentions ?? []).includes(userId)),
          reportsAgainst: sent.reduce((n, m) => n + (m.reports?.length ?? 0), 0),
          mediaObjects: count(data.mediaObjects, (o) => prefixes.some((prefix) => o.key.startsWith(prefix))),
          chatAttachments: sent.reduce((n, m) => n + (m.attachments?.length ?? 0), 0),
          accessLogLines: count(accessLines, (l) => l.userId === userId),
          voiceSessions: count(sessions, (s) => s.participants.some((p) => p.userId === userId)),
          marketingEvents: count(data.marketingEvents, (e) => e.userId === userId),
        },
      ];
    }),
  ) as Record<DemoUserId, UserCounts>;

  const alice = data.accounts.find((a) => a.userId === 'u-alice');
  const minor = data.accounts.find((a) => a.guardianUserId !== undefined);
  const large = data.messages.find((m) => Buffer.byteLength(m.body, 'utf8') >= LARGE_MESSAGE_BYTES);
  const legacy = data.payments.find((p) => p.cardNumber !== undefined);
  const reported = data.messages.find((m) => m.senderId === 'u-alice' && (m.reports?.length ?? 0) > 0);
  const attachment = data.messages.find((m) => m.senderId === 'u-alice' && m.attachments)?.attachments?.[0];
  if (
    !alice?.email ||
    !alice.phone ||
    !minor?.guardianUserId ||
    !large ||
    !legacy ||
    !reported ||
    !attachment
  ) {
    throw new Error('The demo data lost one of its hard cases');
  }
  const clock = clockAt(data.referenceDate);
  const retentionCutoff = Date.parse(data.referenceDate) - 92 * DAY_MS;

  return {
    referenceDate: data.referenceDate,
    users,
    totals: {
      accounts: data.accounts.length,
      payments: data.payments.length,
      chatRooms: data.rooms.length,
      chatMessages: data.messages.length,
      mediaObjects: data.mediaObjects.length,
      logObjects: data.logObjects.length,
      accessLogLines: accessLines.length,
      signedOutLogLines: count(accessLines, (l) => l.userId === null),
      voiceSessions: sessions.length,
      marketingEvents: data.marketingEvents.length,
    },
    cases: {
      mainSubject: 'u-alice',
      noDataUser: 'u-erin',
      minor: { userId: minor.userId, guardianUserId: minor.guardianUserId },
      sharedPhone: {
        phone: SHARED_PHONE,
        userIds: data.accounts.filter((a) => a.phone === SHARED_PHONE).map((a) => a.userId),
      },
      alice: {
        email: alice.email,
        phone: alice.phone,
        deviceIds: (alice.devices ?? []).map((d) => d.deviceId),
        externalAccountIds: (alice.externalAccounts ?? []).map((e) => e.providerUserId),
      },
      largeMessage: { roomId: large.roomId, sk: large.sk, bodyBytes: Buffer.byteLength(large.body, 'utf8') },
      legacyCardRow: { userId: legacy.userId, sk: legacy.sk },
      reportedMessage: { roomId: reported.roomId, sk: reported.sk },
      attachmentKey: attachment.key,
      hostileUploadKeys: data.mediaObjects
        .map((o) => o.key)
        .filter((key) =>
          HOSTILE_UPLOAD_NAMES.some((h) => key.startsWith('uploads/u-alice/') && key.endsWith(h.name)),
        ),
      expiredLogDays: LOG_DAYS.map((d) => clock.day(d)).filter((d) => Date.parse(d) < retentionCutoff),
    },
  };
}

let cachedFixture: DemoFixture | undefined;

/** The fixture of the default demo data set (reference date 2026-11-01). */
export function demoFixture(): DemoFixture {
  cachedFixture ??= describeDemoData(buildDemoData());
  return cachedFixture;
}

// ---------------------------------------------------------------------------------------------------
// Users of each of the five services (../shared/stores.md "Services")

/**
 * One user (or two) per service, each with data only in the stores and categories their service keeps
 * (config/services/<id>.json `holds`), so that each archive shows what that service's privacy officer
 * expects. The demo users above belong to the default service (klub-outside). `haruto.ito@example.jp`
 * is registered at Cluster and at Audiostock: two people as far as each service is concerned. METALIVE's
 * user lives in METALIVE's own stores (`metalive-*`); seed.ts writes each item to its service's store.
 */
export const SERVICE_DEMO_USERS = [
  { userId: 'u-jiwoo', service: 'klub-outside', country: 'KR', locale: 'ko-KR' },
  { userId: 'u-aoi', service: 'prism-project', country: 'JP', locale: 'ja-JP' },
  { userId: 'u-haruto', service: 'cluster', country: 'JP', locale: 'ja-JP' },
  { userId: 'u-haruto-as', service: 'audiostock', country: 'JP', locale: 'ja-JP' },
  { userId: 'u-rin', service: 'metalive', country: 'JP', locale: 'ja-JP' },
] as const;

/** The e-mail registered at two services (Cluster and Audiostock). */
export const TWO_SERVICE_EMAIL = 'haruto.ito@example.jp';

/** A family tablet the Cluster user and the Audiostock user (the same person, to each service another) use. */
export const TWO_SERVICE_DEVICE = 'dev-ito-family-ipad';

/** The same stores' content as the demo data set's. */
export type ServiceDemoData = Omit<DemoData, 'referenceDate'>;

export function buildServiceDemoData(referenceDate: string = DEMO_REFERENCE_DATE): ServiceDemoData {
  const clock = clockAt(referenceDate);
  const { at, day } = clock;
  const hash = (who: string) => `$argon2id$v=19$m=65536,t=3,p=4$ZGVtby1zYWx0LX${who}$ZGVtb2hhc2g`;
  const device = (deviceId: string, platform: string, firstSeenDaysBefore: number): Device => ({
    deviceId,
    platform,
    firstSeen: at(firstSeenDaysBefore, '10:00:00'),
    lastSeen: at(1, '21:00:00'),
  });
  const accounts: AccountItem[] = [
    {
      userId: 'u-jiwoo',
      service: 'klub-outside',
      email: 'jiwoo.lee@example.co.kr',
      phone: '+821055507788',
      name: { first: '지우', last: '이' },
      nickname: 'jiwoo',
      country: 'KR',
      locale: 'ko-KR',
      createdAt: at(400, '09:30:00'),
      status: 'active',
      devices: [device('dev-jiwoo-phone', 'android', 400)],
      consents: { marketingEmail: true, personalizedAds: false, updatedAt: at(60, '10:00:00') },
      passwordHash: hash('ppd29v'),
    },
    {
      userId: 'u-aoi',
      service: 'prism-project',
      email: 'aoi.suzuki@example.jp',
      name: { first: '葵', last: '鈴木' },
      nickname: 'aoi_prism',
      birthday: '04-08',
      country: 'JP',
      locale: 'ja-JP',
      createdAt: at(300, '18:00:00'),
      status: 'active',
      consents: { marketingEmail: true, personalizedAds: false, updatedAt: at(300, '18:00:00') },
      passwordHash: hash('FvaQ'),
    },
    {
      userId: 'u-haruto',
      service: 'cluster',
      email: TWO_SERVICE_EMAIL,
      phone: '+819011223344',
      name: { first: '陽翔', last: '伊藤' },
      nickname: 'haruto_vr',
      country: 'JP',
      locale: 'ja-JP',
      createdAt: at(600, '20:00:00'),
      status: 'active',
      devices: [device(TWO_SERVICE_DEVICE, 'ios', 600), device('dev-haruto-quest', 'quest', 500)],
      externalAccounts: [
        {
          provider: 'discord',
          providerUserId: '918273645501928374',
          accessToken: 'demo-haruto-discord-token',
          linkedAt: at(590, '20:10:00'),
        },
      ],
      consents: { marketingEmail: true, personalizedAds: true, updatedAt: at(590, '20:10:00') },
      passwordHash: hash('hdXJ1dG8'),
    },
    {
      userId: 'u-haruto-as',
      service: 'audiostock',
      email: TWO_SERVICE_EMAIL,
      name: { first: '陽翔', last: '伊藤' },
      nickname: 'haruto_beats',
      country: 'JP',
      locale: 'ja-JP',
      createdAt: at(250, '23:00:00'),
      status: 'active',
      devices: [device('dev-haruto-pc', 'windows', 250), device(TWO_SERVICE_DEVICE, 'ios', 240)],
      bankAccount: {
        bankName: 'みずほ銀行',
        branch: '渋谷支店',
        accountType: 'ordinary',
        accountNumber: '1234567',
        holderName: 'イトウ ハルト',
      },
      consents: { marketingEmail: false, personalizedAds: false, updatedAt: at(250, '23:00:00') },
      passwordHash: hash('YXVkaW8'),
    },
    {
      userId: 'u-rin',
      service: 'metalive',
      email: 'rin.kobayashi@example.jp',
      phone: '+818022223333',
      name: { first: '凛', last: '小林' },
      nickname: 'rin_live',
      country: 'JP',
      locale: 'ja-JP',
      createdAt: at(150, '12:00:00'),
      status: 'active',
      devices: [device('dev-rin-phone', 'ios', 150)],
      consents: { marketingEmail: true, personalizedAds: false, updatedAt: at(150, '12:00:00') },
      passwordHash: hash('cmlu'),
    },
  ];

  const payment = (
    userId: string,
    n: number,
    daysBefore: number,
    fields: Omit<PaymentItem, 'userId' | 'sk' | 'txnId' | 'txnAt' | 'processorRef'>,
  ): PaymentItem => {
    const txnId = `txn-${userId.slice(2)}-${String(n).padStart(4, '0')}`;
    const txnAt = at(daysBefore, '19:30:00');
    return { userId, sk: `${txnAt}#${txnId}`, txnId, txnAt, processorRef: `ref-${txnId}`, ...fields };
  };
  const payments: PaymentItem[] = [
    // Korea keeps transaction records 5 years after the account's deletion.
    payment('u-jiwoo', 1, 90, {
      type: 'purchase',
      amount: 15000,
      currency: 'KRW',
      item: { sku: 'fanmeeting-ticket-2026', title: '팬미팅 온라인 티켓' },
      status: 'succeeded',
      card: { brand: 'mastercard', last4: '5454', expMonth: 3, expYear: 2030 },
      processor: 'sony-payment-services',
    }),
    payment('u-aoi', 1, 60, {
      type: 'purchase',
      amount: 3300,
      currency: 'JPY',
      item: { sku: 'prism-fc-monthly', title: 'PRISM ファンクラブ 月会費' },
      status: 'succeeded',
      processor: 'carrier-billing',
    }),
    payment('u-haruto', 1, 45, {
      type: 'purchase',
      amount: 1200,
      currency: 'JPY',
      item: { sku: 'cluster-event-ticket-0412', title: 'バーチャルライブ チケット' },
      status: 'succeeded',
      card: { brand: 'jcb', last4: '3530', expMonth: 11, expYear: 2028 },
      processor: 'card-acquirer',
    }),
    payment('u-haruto-as', 1, 30, {
      type: 'payout',
      amount: 8800,
      currency: 'JPY',
      item: { sku: 'royalty-2026-09', title: '楽曲販売報酬 2026年9月分' },
      status: 'paid',
      processor: 'bank-transfer',
    }),
    payment('u-rin', 1, 20, {
      type: 'purchase',
      amount: 980,
      currency: 'JPY',
      item: { sku: 'metalive-points-1000', title: 'METALIVE ポイント 1000pt' },
      status: 'succeeded',
      processor: 'carrier-billing',
    }),
  ];

  const rooms: ChatRoomItem[] = [
    {
      roomId: 'room-cluster-event-hall',
      kind: 'public-world',
      worldId: 'world-cluster-event-hall',
      members: new Set(['u-haruto']),
      createdAt: at(400, '00:00:00'),
    },
    {
      roomId: 'room-metalive-stream-1030',
      kind: 'public-world',
      worldId: 'stream-1030',
      members: new Set(['u-rin']),
      createdAt: at(10, '19:00:00'),
    },
  ];
  const message = (roomId: string, messageId: string, senderId: string, daysBefore: number, body: string) => {
    const sentAt = at(daysBefore, '20:15:00');
    return { roomId, sk: `${sentAt}#${messageId}`, messageId, sentAt, senderId, body };
  };
  const messages: ChatMessageItem[] = [
    message('room-cluster-event-hall', 'msg-haruto-1', 'u-haruto', 44, 'ライブ最高でした！'),
    message('room-metalive-stream-1030', 'msg-rin-1', 'u-rin', 10, '配信ありがとうございます'),
  ];

  const event = (
    userId: string,
    eventId: string,
    when: string,
    fields: Omit<MarketingEventItem, 'userId' | 'sk' | 'eventId' | 'at'>,
  ): MarketingEventItem => ({ userId, sk: `${when}#${eventId}`, eventId, at: when, ...fields });
  const mailer = { ip: '198.51.100.61', userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Mail' };
  const marketingEvents: MarketingEventItem[] = [
    // Advertising e-mail records: Korea keeps them 6 months.
    event('u-jiwoo', 'mev-j1', at(30, '09:00:00'), {
      kind: 'email-delivered',
      campaignId: 'cmp-klub-winter',
      messageId: 'msg-klub-3001',
    }),
    event('u-jiwoo', 'mev-j2', at(29, '21:00:00'), {
      kind: 'email-opened',
      campaignId: 'cmp-klub-winter',
      messageId: 'msg-klub-3001',
      ip: '203.0.113.120',
      userAgent: 'Mozilla/5.0 (Linux; Android 15) Gmail',
    }),
    // Seed 001: the arrival and opening of e-mails, prize competitions and questionnaires.
    event('u-aoi', 'mev-o1', at(25, '08:00:00'), {
      kind: 'email-delivered',
      campaignId: 'cmp-prism-2026-11',
      messageId: 'msg-prism-2001',
    }),
    event('u-aoi', 'mev-o2', at(25, '12:05:00'), {
      kind: 'email-opened',
      campaignId: 'cmp-prism-2026-11',
      messageId: 'msg-prism-2001',
      ...mailer,
    }),
    event('u-aoi', 'mev-o3', at(22, '20:00:00'), {
      kind: 'sweepstakes-entry',
      campaignId: 'cmp-prism-acrylic-stand',
      details: {
        prize: 'サイン入りアクリルスタンド',
        name: '鈴木 葵',
        address: '大阪府大阪市北区梅田3-1-3',
        phone: '+819055556666',
      },
    }),
    event('u-aoi', 'mev-o4', at(21, '20:00:00'), {
      kind: 'campaign-entry',
      campaignId: 'cmp-prism-birthday-2026',
    }),
    event('u-aoi', 'mev-o5', at(20, '22:00:00'), {
      kind: 'survey-response',
      campaignId: 'cmp-prism-survey-2026',
      details: { answers: { q1: 'ライブ配信', q2: '5' } },
    }),
    event('u-haruto', 'mev-h1', at(40, '20:00:00'), {
      kind: 'campaign-entry',
      campaignId: 'cmp-cluster-halloween',
    }),
    event('u-rin', 'mev-r1', at(12, '09:00:00'), {
      kind: 'email-delivered',
      campaignId: 'cmp-metalive-news',
      messageId: 'msg-metalive-11',
    }),
    event('u-rin', 'mev-r2', at(11, '20:00:00'), {
      kind: 'survey-response',
      campaignId: 'cmp-metalive-survey',
      details: { answers: { q1: 'もっと配信を' } },
    }),
  ];

  const media = platformStores.media.bucketName;
  const mediaObjects: DemoObject[] = [
    {
      bucket: media,
      key: 'avatars/u-aoi/av-prism-01.vrm',
      body: vrmFile('Aoi stage', '鈴木 葵'),
      contentType: 'model/gltf-binary',
      metadata: { 'user-id': 'u-aoi' },
    },
    {
      bucket: media,
      key: `behavior/u-aoi/${day(3)}.jsonl.gz`,
      body: gzipLines([{ ts: at(3, '20:00:00'), worldId: 'prism-live-hall', event: 'emote' }]),
      contentType: 'application/gzip',
      metadata: { 'user-id': 'u-aoi' },
    },
    {
      bucket: media,
      key: 'avatars/u-haruto/av-cluster-01.vrm',
      body: vrmFile('Haruto', '伊藤 陽翔'),
      contentType: 'model/gltf-binary',
      metadata: { 'user-id': 'u-haruto' },
    },
  ];

  // Access logs of each user, in parts of their own (the day's other parts stay as they are).
  const line = (userId: string, deviceId: string, daysBefore: number, path: string): AccessLogLine => ({
    ts: at(daysBefore, '20:00:00'),
    userId,
    ip: '198.51.100.90',
    deviceId,
    userAgent: USER_AGENTS.ios ?? '',
    method: 'GET',
    path,
    status: 200,
    referrer: null,
    country: userId === 'u-jiwoo' ? 'KR' : 'JP',
    region: userId === 'u-jiwoo' ? 'KR-11' : 'JP-13',
  });
  const logs = platformStores.logs;
  const logObjects: LogObject[] = [1, 2].map((daysBefore) => ({
    bucket: logs.bucketName,
    key: `${logs.accessPrefix}dt=${day(daysBefore)}/part-00010.jsonl.gz`,
    kind: 'access',
    lines: [
      line('u-aoi', 'dev-aoi-browser', daysBefore, '/prism/live'),
      line('u-haruto', 'dev-haruto-quest', daysBefore, '/worlds/event-hall'),
      line('u-haruto-as', 'dev-haruto-pc', daysBefore, '/audiostock/dashboard'),
      line('u-rin', 'dev-rin-phone', daysBefore, '/metalive/stream/1030'),
    ],
  }));
  return { accounts, payments, rooms, messages, marketingEvents, mediaObjects, logObjects };
}
