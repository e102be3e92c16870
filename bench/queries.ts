// The fixed request lists of each scenario, built from the dataset with a seeded generator, so every run
// (and every server measured in a run) gets the same requests in the same order.
import type { KeyRecord } from './generate.js';
import { encodeArmor } from '../src/formats/armor.js';
import { readKeys } from './dataset.js';
import { pick, seededRandom, seedOf } from './random.js';

export interface HkpRequest {
  method: 'GET' | 'POST';
  /** Path and query string. */
  path: string;
  /** application/x-www-form-urlencoded body (POST). */
  body?: string;
}

export type ScenarioId =
  | 'get-fpr'
  | 'get-fpr-close'
  | 'get-fpr-https-close'
  | 'get-fpr-https-resume'
  | 'get-longid'
  | 'index-email'
  | 'index-name'
  | 'index-shortid'
  | 'mixed'
  | 'push-stored'
  | 'push-new';

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** mixed: lookups and pushes in one list, their latencies reported apart. */
  kind: 'read' | 'push' | 'mixed';
  /** Sends "Connection: close" (a new connection per request, as gpg's dirmngr does). */
  connectionClose: boolean;
  /** Each request at most once (pushes of new keys): the run ends early when the list is used up. */
  once: boolean;
  /** Over HTTPS (keystore's HTTPS listener), side by side with nginx serving the same answers as files. */
  tls?: true;
  /** A new connection per request that resumes the TLS session of an earlier one (a client caching tickets). */
  resume?: true;
  /** Also measured on nginx serving the same answers as static files (fingerprint fetches). */
  static?: true;
  /** The one concurrency this scenario runs at (else --concurrency; Connection: close runs at 4). */
  concurrency?: number;
}

export const SCENARIOS: Scenario[] = [
  { id: 'get-fpr', title: 'get by fingerprint', kind: 'read', connectionClose: false, once: false, static: true },
  { id: 'get-fpr-close', title: 'get by fingerprint, Connection: close', kind: 'read', connectionClose: true, once: false, static: true },
  {
    id: 'get-fpr-https-close',
    title: 'get by fingerprint, HTTPS, Connection: close',
    kind: 'read',
    connectionClose: true,
    once: false,
    tls: true,
    static: true,
  },
  {
    id: 'get-fpr-https-resume',
    title: 'get by fingerprint, HTTPS, Connection: close, sessions resumed',
    kind: 'read',
    connectionClose: true,
    once: false,
    tls: true,
    static: true,
    resume: true,
  },
  { id: 'get-longid', title: 'get by long key ID', kind: 'read', connectionClose: false, once: false },
  { id: 'index-email', title: 'index by e-mail', kind: 'read', connectionClose: false, once: false },
  { id: 'index-name', title: 'index by name words', kind: 'read', connectionClose: false, once: false },
  { id: 'index-shortid', title: 'index by short key ID', kind: 'read', connectionClose: false, once: false },
  { id: 'mixed', title: 'mixed: 95% lookups, 5% pushes', kind: 'mixed', connectionClose: false, once: false, concurrency: 16 },
  { id: 'push-stored', title: 'push of a stored key', kind: 'push', connectionClose: false, once: false },
  { id: 'push-new', title: 'push of a new key', kind: 'push', connectionClose: false, once: true },
];

/**
 * The scenarios in the order they run: every read first, then the mixed load (its pushes are of stored keys),
 * then pushes of stored keys, pushes of new keys last: a server that keeps what is pushed to it (SKS, and
 * keystore) answers every read run with the dataset alone.
 */
export function runOrder(scenarios: Scenario[]): Scenario[] {
  const rank = (s: Scenario) => (s.kind === 'read' ? 0 : s.kind === 'mixed' ? 1 : s.once ? 3 : 2);
  return scenarios
    .map((s, i) => ({ s, i }))
    .sort((a, b) => rank(a.s) - rank(b.s) || a.i - b.i)
    .map(({ s }) => s);
}

/** The path gpg --recv-keys / --search-keys sends. */
const get = (search: string): HkpRequest => ({ method: 'GET', path: `/pks/lookup?op=get&options=mr&search=${search}` });
const index = (search: string): HkpRequest => ({ method: 'GET', path: `/pks/lookup?op=index&options=mr&fingerprint=on&search=${search}` });

/** gpg sends the search text percent-encoded, spaces as %20 and "@" as is. */
function encodeSearch(text: string): string {
  return encodeURIComponent(text).replace(/%40/g, '@');
}

export function emailOf(userId: string): string | null {
  const bracketed = /<([^<>\s]+@[^<>\s]+)>\s*$/.exec(userId);
  if (bracketed) return bracketed[1]!;
  return /^[^\s<>@]+@[^\s<>@]+$/.test(userId.trim()) ? userId.trim() : null;
}

/** "First Last" of a user ID: its name part without comment and e-mail, first and last word. */
export function nameWordsOf(userId: string): string | null {
  const name = userId
    .replace(/<[^>]*>/g, ' ')
    .replace(/\([^)]*\)/g, ' ')
    .trim();
  const words = name.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w) && !w.includes('@'));
  if (words.length === 0) return null;
  return words.length === 1 ? words[0]! : `${words[0]} ${words[words.length - 1]}`;
}

/** `count` requests, each made from a key drawn at random (keys that give none are drawn again). */
function draw(id: string, keys: KeyRecord[], count: number, make: (key: KeyRecord, random: () => number) => HkpRequest | null): HkpRequest[] {
  const random = seededRandom(seedOf(id));
  const out: HkpRequest[] = [];
  for (let attempts = 0; out.length < count && attempts < count * 20; attempts++) {
    const request = make(pick(random, keys), random);
    if (request) out.push(request);
  }
  return out;
}

export interface ListOptions {
  /** Requests in each read list. */
  queries: number;
  /** Stored keys in the push-stored list. */
  pushQueries: number;
}

/** The request lists of the read scenarios and of pushes of stored keys. */
export async function buildLists(keys: KeyRecord[], options: ListOptions): Promise<Map<ScenarioId, HkpRequest[]>> {
  const n = options.queries;
  const lists = new Map<ScenarioId, HkpRequest[]>();
  const byFingerprint = draw('get-fpr', keys, n, (k) => get(`0x${k.fingerprint}`));
  lists.set('get-fpr', byFingerprint);
  lists.set('get-fpr-close', byFingerprint);
  lists.set('get-fpr-https-close', byFingerprint);
  lists.set('get-fpr-https-resume', byFingerprint);
  lists.set(
    'get-longid',
    draw('get-longid', keys, n, (k) => get(`0x${k.fingerprint.slice(-16)}`)),
  );
  lists.set(
    'index-email',
    draw('index-email', keys, n, (k, random) => {
      const emails = k.userIds.map(emailOf).filter((e): e is string => e !== null);
      return emails.length > 0 ? index(encodeSearch(pick(random, emails))) : null;
    }),
  );
  lists.set(
    'index-name',
    draw('index-name', keys, n, (k, random) => {
      const names = k.userIds.map(nameWordsOf).filter((w): w is string => w !== null);
      return names.length > 0 ? index(encodeSearch(pick(random, names))) : null;
    }),
  );
  lists.set(
    'index-shortid',
    draw('index-shortid', keys, n, (k) => index(`0x${k.fingerprint.slice(-8)}`)),
  );
  const random = seededRandom(seedOf('push-stored'));
  const stored = Array.from({ length: Math.min(options.pushQueries, keys.length) }, () => pick(random, keys));
  lists.set('push-stored', await pushes(stored));
  lists.set('mixed', mixed(lists));
  return lists;
}

// Share of pushes in the mixed list.
const MIXED_PUSHES = 0.05;

/**
 * The mixed list: lookups (by fingerprint, long key ID, e-mail, name, in turn) with a push of a stored key
 * (validated and merged, as a re-sent or updated key is) drawn at random in place of 5% of them.
 */
function mixed(lists: Map<ScenarioId, HkpRequest[]>): HkpRequest[] {
  const random = seededRandom(seedOf('mixed'));
  const reads = (['get-fpr', 'get-longid', 'index-email', 'index-name'] as const).map((id) => lists.get(id)!).filter((l) => l.length > 0);
  const writes = lists.get('push-stored')!;
  const length = Math.max(...reads.map((l) => l.length));
  const out: HkpRequest[] = [];
  for (let i = 0; i < length; i++) {
    out.push(
      writes.length > 0 && random() < MIXED_PUSHES
        ? pick(random, writes)
        : reads[i % reads.length]![Math.floor(i / reads.length) % reads[i % reads.length]!.length]!,
    );
  }
  return out;
}

/**
 * POST /pks/add requests, one key each, armored (with the CRC-24 line SKS requires) and form-encoded as gpg
 * --send-keys sends them.
 */
export async function pushes(keys: KeyRecord[]): Promise<HkpRequest[]> {
  return (await readKeys(keys)).map((bytes) => ({ method: 'POST', path: '/pks/add', body: `keytext=${encodeURIComponent(encodeArmor(bytes))}` }));
}
