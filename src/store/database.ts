// Opens the database: real PostgreSQL when a URL is given, else embedded PostgreSQL (PGlite) in a folder.
import { Kysely, PostgresDialect, sql, type Generated } from 'kysely';
import pg from 'pg';
import { listenForKeyChanges, newWriterId, type KeyChangeListener, type KeyChangeSubscriber } from './keyChanges.js';
import { ReadRouter, type ReadSource, type ReadTarget } from './readReplicas.js';

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
  /** Capability letters ("csea"); null for rows written before they were derived (keystore refresh-facts). */
  capabilities: string | null;
  /** Reason-for-revocation code and text, when the revocation gives one. */
  revocation_code: number | null;
  revocation_reason: string | null;
}

export interface UserIdsTable {
  key_row: string;
  position: number;
  uid: string;
  email: string | null;
  /** The user ID's identity (e-mail address or account name, normal form), for identity searches. */
  identity: string | null;
  /** WKD hash (z-base-32 of SHA-1) of the e-mail's local part, for Web Key Directory lookups; indexed. */
  wkd_hash: string | null;
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
  /** The identity (e-mail address or account name, normal form) the token belongs to. */
  identity: string;
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
  /** Who pushed: the token's identity (local or from the identity provider); null without a token and in old rows. */
  identity: string | null;
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
  /**
   * The command opening an embedded folder: `serve` takes it and shares it (see embedded.ts); any other command
   * takes it when free or goes through the server holding it. Default `command`.
   */
  command?: string;
  /**
   * The URL reaches the embedded database's one session through its server's socket: no named prepared
   * statements (their names would collide between connections).
   */
  sharedSession?: boolean;
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
  /** How other connections (import worker threads) reach the same database; absent for an embedded one opened here. */
  connection?: { url: string; sharedSession: boolean };
  /** An embedded database opened by `serve`: lets the command line in through a socket in its folder. */
  shareWithCommands?: () => Promise<void>;
  /** Where lookups run (DATABASE_READ_URL): standbys caught up with what this instance knows of, else the primary. Absent: on db. */
  reads?: ReadSource;
  /** This instance committed a change to keys: reads wait for the standbys to replay it (see readReplicas.ts). */
  wrote?: () => void;
  /** With standbys: which are up, and reads served by each kind of database so far. */
  readReplicas?: () => { standbys: { name: string; up: boolean }[]; served: Record<ReadTarget, number> };
  close(): Promise<void>;
}

// Waiting longer than this for a connection (unreachable server, or every connection busy) fails the query,
// which is answered 503, rather than holding the request until a proxy in front gives up.
const CONNECT_TIMEOUT_MS = 10_000;

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const primary = openPostgres(options.url, options.poolSize ?? 10, options.sharedSession === true);
    const readUrls = options.readUrls ?? [];
    return readUrls.length > 0 && options.sharedSession !== true ? withStandbys(primary, options.url, readUrls, options.poolSize ?? 10) : primary;
  }
  // Loaded only when used: a server on PostgreSQL never needs the embedded database's code.
  const { openEmbedded } = await import('./embedded.js');
  return openEmbedded(options);
}

/** A pool on a PostgreSQL server, or on an embedded database through its server's socket (`sharedSession`). */
export function openPostgres(url: string, max: number, sharedSession: boolean): DatabaseHandle {
  const pool = newPool(url, max, CONNECT_TIMEOUT_MS, sharedSession);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const poolStats = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max });
  const writerId = newWriterId();
  return {
    db,
    kind: sharedSession ? 'pglite' : 'postgresql',
    poolStats,
    writerId,
    connection: { url, sharedSession },
    ...(sharedSession ? {} : { listenForKeyChanges: (subscriber: KeyChangeSubscriber) => listenForKeyChanges(url, writerId, subscriber) }),
    close: () => db.destroy(),
  };
}

function newPool(url: string, max: number, connectTimeoutMs: number, sharedSession: boolean): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: connectTimeoutMs });
  // A client losing its server must not crash the process (an 'error' event without a listener throws):
  // the pool listens while a client is idle, this listener while it is checked out between queries.
  // The next query on it fails and is answered 503; the pool then discards the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
    if (!sharedSession) prepareMarked(client);
  });
  return pool;
}

// A standby that does not answer quickly is left out (its reads go to the primary) rather than waited for.
const STANDBY_CONNECT_TIMEOUT_MS = 3_000;
// How often standbys are checked: a standby back is used again within about this long.
const STANDBY_POLL_MS = 1_000;

/** The primary's handle with lookups routed to standbys (docs/replicas.md); a pool of `max` per standby. */
async function withStandbys(primary: DatabaseHandle, url: string, readUrls: string[], max: number): Promise<DatabaseHandle> {
  const standbys = readUrls.map((readUrl) => ({
    name: hostOf(readUrl),
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: newPool(readUrl, max, STANDBY_CONNECT_TIMEOUT_MS, false) }) }),
  }));
  const router = new ReadRouter({ primary: primary.db, standbys, isUnavailable: isDatabaseUnavailable, pollMs: STANDBY_POLL_MS });
  await router.start();
  return {
    ...primary,
    reads: router,
    wrote: () => router.fenceNow(),
    readReplicas: () => ({ standbys: router.status(), served: { ...router.served } }),
    // Another instance's change, or changes maybe missed while not listening: reads wait for the standbys to
    // replay them, decided before the subscriber (the lookup cache) drops what they made stale.
    listenForKeyChanges: (subscriber) =>
      listenForKeyChanges(url, primary.writerId, {
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
      await Promise.all([primary.close(), ...standbys.map((s) => s.db.destroy())]);
    },
  };
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
