// Opens the database: real PostgreSQL when a URL is given, else embedded PostgreSQL (PGlite) in a folder.
import { Kysely, PostgresDialect, sql, type Generated } from 'kysely';
import pg from 'pg';
import { listenForKeyChanges, newWriterId, type KeyChangeListener, type KeyChangeSubscriber } from './keyChanges.js';
import { directReads, ReadRouter, type ReadSource, type ReadTarget } from './readReplicas.js';

export interface KeysTable {
  id: Generated<string>;
  fingerprint: string;
  key_id: string;
  version: number;
  algorithm: number;
  bits: number;
  created: string | number;
  expires: string | number | null;
  revoked: boolean;
  packets: Uint8Array;
  size: number;
  user_id_count: number;
  user_attribute_count: number;
  subkey_count: number;
  signature_count: number;
  primary_user_id: string | null;
  /** JSON text on write, parsed object on read. */
  signature_facts: unknown;
  revision: Generated<number>;
  first_seen: Generated<Date>;
  last_changed: Generated<Date>;
}

export interface KeyIdentifiersTable {
  key_row: string;
  is_primary: boolean;
  fingerprint: string;
  long_id: string;
  short_id: string;
  algorithm: number;
  bits: number;
  created: string | number;
  expires: string | number | null;
  revoked: boolean;
}

export interface UserIdsTable {
  key_row: string;
  position: number;
  uid: string;
  email: string | null;
  /** Distinct lower-cased words of uid (text[]), for word searches; GIN-indexed. */
  words: string[];
  created: string | number;
  expires: string | number | null;
  revoked: boolean;
  is_primary: boolean;
}

export interface KeyStatsHourlyTable {
  hour: Date;
  inserted: number;
  updated: number;
}

export interface AccessTokensTable {
  id: Generated<string>;
  secret_sha256: string;
  email: string;
  created: Generated<Date>;
  revoked_at: Date | null;
  last_used: Date | null;
}

export interface PushAuditTable {
  id: Generated<string>;
  at: Generated<Date>;
  source: 'http' | 'import';
  remote_address: string | null;
  token_id: string | null;
  fingerprint: string | null;
  outcome: 'inserted' | 'updated' | 'unchanged' | 'refused';
  /** JSON text on write, parsed object on read. */
  detail: unknown;
}

export interface Database {
  keys: KeysTable;
  key_stats_hourly: KeyStatsHourlyTable;
  key_identifiers: KeyIdentifiersTable;
  user_ids: UserIdsTable;
  access_tokens: AccessTokensTable;
  push_audit: PushAuditTable;
}

export interface DatabaseOptions {
  /** PostgreSQL connection string; when absent the embedded database is used. */
  url?: string | undefined;
  /** Folder of the embedded database; "memory://" keeps it in memory. */
  dataDir: string;
  poolSize?: number;
  /** Streaming-replication standbys of `url` that may serve lookups (DATABASE_READ_URL); only with `url`. */
  readUrls?: string[] | undefined;
}

/** Connections of a PostgreSQL pool at one moment. */
export interface PoolStats {
  /** Open connections, idle or in use. */
  total: number;
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
  max: number;
}

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: 'postgresql' | 'pglite';
  /** The pool's connections now; absent for the embedded database, which has no pool. */
  poolStats?: () => PoolStats;
  /**
   * Hears the keys other instances sharing the database write (PostgreSQL LISTEN). Absent for the embedded
   * database, which has only this process as writer.
   */
  listenForKeyChanges?: (subscriber: KeyChangeSubscriber) => KeyChangeListener;
  /** The name this handle's writes carry in their change notifications, which its own listener skips. */
  writerId: string;
  /** Where lookups run: standbys that have caught up with what this instance knows of, else the primary. */
  reads: ReadSource;
  /** This instance committed a change to keys: reads wait for it (see readReplicas.ts). */
  wrote(): void;
  /** With standbys: which are up, and reads served by each kind of database so far. */
  readReplicas?: () => { standbys: { name: string; up: boolean }[]; served: Record<ReadTarget, number> };
  close(): Promise<void>;
}

// Waiting longer than this for a connection (unreachable server, or every connection busy) fails the query,
// which is answered 503, rather than holding the request until a proxy in front gives up.
const CONNECT_TIMEOUT_MS = 10_000;

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const max = options.poolSize ?? 10;
    const pool = newPool(options.url, max, CONNECT_TIMEOUT_MS);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const poolStats = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max });
    const url = options.url;
    const writerId = newWriterId();
    const standbys = (options.readUrls ?? []).map((readUrl) => ({
      name: hostOf(readUrl),
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: newPool(readUrl, max, STANDBY_CONNECT_TIMEOUT_MS) }) }),
    }));
    if (standbys.length === 0) {
      return {
        db, kind: 'postgresql', poolStats, writerId, reads: directReads(db), wrote: () => {},
        listenForKeyChanges: (subscriber) => listenForKeyChanges(url, writerId, subscriber),
        close: () => db.destroy(),
      };
    }
    const router = new ReadRouter({ primary: db, standbys, isUnavailable: isDatabaseUnavailable, pollMs: STANDBY_POLL_MS });
    await router.start();
    return {
      db, kind: 'postgresql', poolStats, writerId, reads: router, wrote: () => router.fenceNow(),
      readReplicas: () => ({ standbys: router.status(), served: { ...router.served } }),
      // Another instance's change, or changes maybe missed while not listening: reads wait for the standbys to
      // replay them, decided before the subscriber (the lookup cache) drops what they made stale.
      listenForKeyChanges: (subscriber) => listenForKeyChanges(url, writerId, {
        change: (news) => {
          router.fenceNow();
          subscriber.change(news);
        },
        listening: (on) => {
          if (on) router.fenceNow();
          subscriber.listening(on);
        },
      }),
      async close() {
        router.close();
        await Promise.all([db.destroy(), ...standbys.map((s) => s.db.destroy())]);
      },
    };
  }
  // Loaded only when used: a server on PostgreSQL never needs the embedded database's code.
  const [{ PGlite }, { pg_trgm }, { PGliteDialect }] = await Promise.all([
    import('@electric-sql/pglite'), import('@electric-sql/pglite/contrib/pg_trgm'), import('kysely-pglite-dialect'),
  ]);
  const lite = await PGlite.create(options.dataDir, { extensions: { pg_trgm } });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(lite) });
  return { db, kind: 'pglite', writerId: newWriterId(), reads: directReads(db), wrote: () => {}, close: () => db.destroy() };
}

// A standby that does not answer quickly is left out (its reads go to the primary) rather than waited for.
const STANDBY_CONNECT_TIMEOUT_MS = 3_000;
// How often standbys are checked: a standby back is used again within about this long.
const STANDBY_POLL_MS = 1_000;

function newPool(url: string, max: number, connectTimeoutMs: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: connectTimeoutMs });
  // A client losing its server must not crash the process (an 'error' event without a listener throws):
  // the pool listens while a client is idle, this listener while it is checked out between queries.
  // The next query on it fails and is answered 503; the pool then discards the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
    prepareMarked(client);
  });
  return pool;
}

/** host:port of a connection string (never its user or password), to name a standby. */
function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}`;
  } catch {
    return 'standby';
  }
}

const PREPARED_MARK = '/* prepared */ ';

/**
 * Put first in a statement (sql`${PREPARED}select ...`) whose text never changes, only its parameters: on
 * PostgreSQL it is prepared once per connection and then only executed. Planning the few statements of a push
 * anew each time costs about as much database CPU as running them (the new-key insert: 0.5 ms, 0.3 prepared).
 */
export const PREPARED = sql.raw(PREPARED_MARK);

// One name per marked text (a handful of them), the same on every connection.
const preparedNames = new Map<string, string>();

/** Makes a pool client run statements marked PREPARED as named prepared statements (node-postgres keeps them per connection). */
function prepareMarked(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (text: unknown, ...rest: unknown[]) => {
    const marked = typeof text === 'string' && text.startsWith(PREPARED_MARK) && (rest[0] === undefined || Array.isArray(rest[0]));
    if (!marked) return query(text, ...rest);
    let name = preparedNames.get(text as string);
    if (name === undefined) {
      name = `keystore_${preparedNames.size + 1}`;
      preparedNames.set(text as string, name);
    }
    return query({ name, text, values: rest[0] ?? [] }, ...rest.slice(1));
  };
}

const UNAVAILABLE_MESSAGES = [
  'Connection terminated', // 'Connection terminated unexpectedly', '... due to connection timeout'
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'timeout exceeded when trying to connect',
];

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);

/** Whether an error means the database cannot be reached right now (SQLSTATE class 08, shutdown, no connections). */
export function isDatabaseUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  // node-postgres reports a connection lost mid-query, a client already broken, or a connect timeout without a code.
  const message = (e as { message?: unknown } | null)?.message;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m))) return true;
  // A host with several addresses refusing on each: an AggregateError of the attempts.
  const errors = (e as { errors?: unknown[] } | null)?.errors;
  return Array.isArray(errors) && errors.some(isDatabaseUnavailable);
}
