// The rows a key's facts take in key_identifiers and user_ids (one source for single and batch writes), the
// hourly counters, and multi-row inserts cut to statement size.
import { sql, type Insertable, type Kysely } from 'kysely';
import type { Database, KeyIdentifiersTable, UserIdsTable } from './database.js';
import type { KeyRecord } from '../vocabulary.js';

// E-mails longer than any real address are not indexed (keeps the btree index within its row limit).
const MAX_INDEXED_EMAIL = 254;

// Multi-row inserts are cut into statements of at most 32,767 bind parameters (one per value; PostgreSQL takes
// 65,535, the embedded database's protocol parser half that) and about this many bytes of key data.
const MAX_PARAMETERS = 32_767;
const MAX_STATEMENT_BYTES = 16 * 1024 * 1024;

/** Rows in statement-sized slices (rows all have the same columns; sizeOf gives a row's bulk in bytes). */
export function* statementChunks<T extends object>(rows: T[], sizeOf: (row: T) => number = () => 0): Generator<T[]> {
  if (rows.length === 0) return;
  const perStatement = Math.floor(MAX_PARAMETERS / Object.keys(rows[0]!).length);
  let start = 0;
  while (start < rows.length) {
    let end = start + 1;
    let bytes = sizeOf(rows[start]!);
    while (end < rows.length && end - start < perStatement && bytes + sizeOf(rows[end]!) <= MAX_STATEMENT_BYTES) bytes += sizeOf(rows[end++]!);
    yield rows.slice(start, end);
    start = end;
  }
}

export async function insertFacts(trx: Kysely<Database>, row: string, record: KeyRecord): Promise<void> {
  const rows = factRows(row, record);
  await trx.insertInto('key_identifiers').values(rows.identifiers).execute();
  if (rows.userIds.length > 0) await trx.insertInto('user_ids').values(rows.userIds).execute();
}

/** The key_identifiers and user_ids rows of a key (stored in row): one source for single and batch writes. */
export function factRows(row: string, record: KeyRecord): { identifiers: Insertable<KeyIdentifiersTable>[]; userIds: Insertable<UserIdsTable>[] } {
  const keys = [{ ...record, isPrimary: true }, ...record.subkeys.map((s) => ({ ...s, isPrimary: false }))];
  return {
    identifiers: keys.map((k) => ({
      key_row: row,
      is_primary: k.isPrimary,
      fingerprint: k.fingerprint,
      long_id: k.keyId,
      short_id: k.keyId.slice(-8),
      algorithm: k.algorithm,
      bits: k.bits,
      created: k.created,
      expires: k.expires,
      revoked: k.revoked,
      capabilities: k.capabilities,
      revocation_code: k.revocation?.code ?? null,
      revocation_reason: k.revocation?.text ?? null,
    })),
    userIds: record.userIds.map((u, position) => ({
      key_row: row,
      position,
      uid: u.text,
      email: u.email && u.email.length <= MAX_INDEXED_EMAIL ? u.email : null,
      identity: u.identity,
      wkd_hash: u.email && u.email.length <= MAX_INDEXED_EMAIL ? u.wkdHash : null,
      words: u.words,
      created: u.created,
      expires: u.expires,
      revoked: u.revoked,
      is_primary: u.primary,
    })),
  };
}

/** Keeps op=stats cheap: one counter row per hour instead of scanning keys. */
export async function countChange(trx: Kysely<Database>, column: 'inserted' | 'updated', count = 1): Promise<void> {
  await trx
    .insertInto('key_stats_hourly')
    .values({ hour: sql`date_trunc('hour', now())`, inserted: column === 'inserted' ? count : 0, updated: column === 'updated' ? count : 0 })
    .onConflict((oc) => oc.column('hour').doUpdateSet((eb) => ({ [column]: eb(eb.ref(`key_stats_hourly.${column}`), '+', count) })))
    .execute();
}
