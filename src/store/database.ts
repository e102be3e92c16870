// Opens the database: real PostgreSQL when a URL is given, else embedded PostgreSQL (PGlite) in a folder.
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { Kysely, PostgresDialect, type Generated } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';

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

export interface Database {
  keys: KeysTable;
  key_stats_hourly: KeyStatsHourlyTable;
  key_identifiers: KeyIdentifiersTable;
  user_ids: UserIdsTable;
}

export interface DatabaseOptions {
  /** PostgreSQL connection string; when absent the embedded database is used. */
  url?: string | undefined;
  /** Folder of the embedded database; "memory://" keeps it in memory. */
  dataDir: string;
  poolSize?: number;
}

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: 'postgresql' | 'pglite';
  close(): Promise<void>;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
    // An idle client losing its server must not crash the process; the next query reports it.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgresql', close: () => db.destroy() };
  }
  const lite = await PGlite.create(options.dataDir, { extensions: { pg_trgm } });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(lite) });
  return { db, kind: 'pglite', close: () => db.destroy() };
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);

/** Whether an error means the database cannot be reached right now (SQLSTATE class 08, shutdown, no connections). */
export function isDatabaseUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  // node-postgres reports a connection lost mid-query without a code; it marks the client as ended.
  const errors = (e as { errors?: unknown[] } | null)?.errors;
  return Array.isArray(errors) && errors.some(isDatabaseUnavailable);
}
