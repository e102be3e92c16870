// News of changed keys for every server instance sharing the database: each write transaction sends a
// PostgreSQL NOTIFY (delivered to listeners only when it commits), and each instance LISTENs on a connection
// of its own, so caches of lookups can drop what a write made stale, whichever instance wrote.
// Each notification names the writer it came from. A writer's own instance dropped what its write made stale
// when the write returned, so it skips its own news: heard later, at no set time, it would only drop answers
// cached since from the new data (and make a read right after a push miss the cache at random).
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import type { KeyChange, KeyChangeNews } from '../vocabulary.js';

export const KEY_CHANGES_CHANNEL = 'keystore_key_changes';

// PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; a longer change is sent as "everything".
const MAX_PAYLOAD = 7900;

/** The payload of a change's notification; `writer` names the instance that wrote it (see newWriterId). */
export function encodeKeyChange(change: KeyChange, writer: string): string {
  // `e`: the identities (named for the e-mail addresses that were the only identities of older versions).
  const payload = JSON.stringify({ w: writer, f: change.fingerprints, e: change.identities });
  return Buffer.byteLength(payload) <= MAX_PAYLOAD ? payload : JSON.stringify({ w: writer, all: true });
}

/** A notification's change and, when it says so, its writer. */
export function decodeKeyChange(payload: string): { news: KeyChangeNews; writer?: string } {
  try {
    const value = JSON.parse(payload) as { w?: unknown; f?: unknown; e?: unknown };
    const writer = typeof value.w === 'string' ? { writer: value.w } : {};
    const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (strings(value.f) && strings(value.e)) return { news: { fingerprints: value.f as string[], identities: value.e as string[] }, ...writer };
    return { news: 'all', ...writer };
  } catch {
    // Not ours or damaged: assume the worst.
  }
  return { news: 'all' };
}

/** A new writer's name: one per opened database, so one per server instance (each cluster worker has its own). */
export function newWriterId(): string {
  return randomUUID();
}

/** Sends the changes (one notification each) to every listening instance when the transaction commits. */
export async function notifyKeyChanges(trx: Kysely<Database>, changes: KeyChange[], writer: string): Promise<void> {
  if (changes.length === 0) return;
  const payloads = changes.map((change) => encodeKeyChange(change, writer));
  await sql`select pg_notify(${KEY_CHANGES_CHANNEL}, payload) from unnest(${payloads}::text[]) as payload`.execute(trx);
}

export interface KeyChangeSubscriber {
  /** A change committed by another instance (or by an older version not naming its writer). */
  change(news: KeyChangeNews): void;
  /**
   * Whether changes are being heard. While false, changes may be missed: a cache must not serve. On becoming
   * true (first connect and every reconnect) anything cached before may be stale.
   */
  listening(on: boolean): void;
}

export interface KeyChangeListener {
  close(): Promise<void>;
}

const RETRY_MS = [100, 500, 1000, 2000, 5000];

/**
 * LISTENs on a dedicated connection (not from the pool: a pooled connection goes back to other queries),
 * reconnecting with a backoff whenever it is lost. News written as `ownWriter` is not passed on.
 */
export function listenForKeyChanges(url: string, ownWriter: string, subscriber: KeyChangeSubscriber): KeyChangeListener {
  let client: pg.Client | null = null;
  let closed = false;
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;

  const lost = () => {
    subscriber.listening(false);
    const current = client;
    client = null;
    current?.removeAllListeners();
    current?.on('error', () => {});
    void current?.end().catch(() => {});
    if (closed) return;
    timer = setTimeout(connect, RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]);
    timer.unref();
  };

  const connect = async () => {
    timer = null;
    if (closed) return;
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    client = next;
    next.on('error', lost);
    next.on('end', () => {
      if (client === next) lost();
    });
    next.on('notification', (message) => {
      if (message.channel !== KEY_CHANGES_CHANNEL) return;
      const { news, writer } = decodeKeyChange(message.payload ?? '');
      if (writer !== ownWriter) subscriber.change(news);
    });
    try {
      await next.connect();
      await next.query(`listen ${KEY_CHANGES_CHANNEL}`);
      if (client !== next || closed) return;
      failures = 0;
      subscriber.listening(true);
    } catch {
      if (client === next) lost();
    }
  };

  subscriber.listening(false);
  void connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const current = client;
      client = null;
      subscriber.listening(false);
      if (current) {
        current.removeAllListeners();
        current.on('error', () => {});
        await current.end().catch(() => {});
      }
    },
  };
}
