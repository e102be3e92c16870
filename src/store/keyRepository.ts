// Keys in PostgreSQL: the merged key bytes plus the facts lookups need, written together.
import { sql, type Insertable, type Kysely } from 'kysely';
import type { Database, KeyIdentifiersTable, UserIdsTable } from './database.js';
import { notifyKeyChange, notifyKeyChanges, type KeyChange } from './keyChanges.js';
import { toBytes, type SignatureFact } from './keyQueries.js';

/** Facts of a (sub)key, computed at import. Times are Unix seconds. */
export interface KeyFacts {
  fingerprint: string;
  keyId: string;
  algorithm: number;
  bits: number;
  created: number;
  expires: number | null;
  revoked: boolean;
}

export interface UserIdFacts {
  text: string;
  email: string | null;
  /** Distinct lower-cased words of the text, for word searches (computed at import). */
  words: string[];
  created: number;
  expires: number | null;
  revoked: boolean;
  primary: boolean;
}

export interface KeyRecord extends KeyFacts {
  version: number;
  userIds: UserIdFacts[];
  userAttributes: number;
  subkeys: KeyFacts[];
  signatures: number;
  signatureFacts: { userIds: SignatureFact[][]; subkeys: SignatureFact[][] };
}

export interface StoredKey {
  row: string;
  revision: number;
  packets: Uint8Array;
}

// E-mails longer than any real address are not indexed (keeps the btree index within its row limit).
const MAX_INDEXED_EMAIL = 254;

// Longest primary key packet with its header: RSA 16384 (the largest key size accepted) is about 2.1 KB.
const PRIMARY_PACKET_PREFIX = 8192;

// Values of an IN (...) list per query: well within the bind-parameter limits (below).
const IN_LIST_CHUNK = 5000;

// Multi-row inserts are cut into statements of at most 32,767 bind parameters (one per value; PostgreSQL takes
// 65,535, the embedded database's protocol parser half that) and about this many bytes of key data.
const MAX_PARAMETERS = 32_767;
const MAX_STATEMENT_BYTES = 16 * 1024 * 1024;

/** Rows in statement-sized slices (rows all have the same columns; sizeOf gives a row's bulk in bytes). */
function* statementChunks<T extends object>(rows: T[], sizeOf: (row: T) => number = () => 0): Generator<T[]> {
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

export class KeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async findForMerge(fingerprint: string): Promise<StoredKey | null> {
    const row = await this.db
      .selectFrom('keys')
      .select(['id', 'revision', 'packets'])
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return row ? { row: String(row.id), revision: row.revision, packets: toBytes(row.packets) } : null;
  }

  /** Inserts a new key; false when another writer inserted the same fingerprint first. */
  async insert(record: KeyRecord, packets: Uint8Array): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('keys')
        .values({ ...keyColumns(record, packets) })
        .onConflict((oc) => oc.column('fingerprint').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) return false;
      await insertFacts(trx, String(inserted.id), record);
      await countChange(trx, 'inserted');
      await notifyKeyChange(trx, keyChangeOf(record));
      return true;
    });
  }

  /** Replaces a key's bytes and facts if it is still at the revision the merge started from. */
  async update(stored: StoredKey, record: KeyRecord, packets: Uint8Array): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('keys')
        .set({ ...keyColumns(record, packets), revision: stored.revision + 1, last_changed: sql`now()` })
        .where('id', '=', stored.row)
        .where('revision', '=', stored.revision)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      // The identifier and user-ID rows are a projection of the packets: rebuilt, never the source of truth.
      await trx.deleteFrom('key_identifiers').where('key_row', '=', stored.row).execute();
      await trx.deleteFrom('user_ids').where('key_row', '=', stored.row).execute();
      await insertFacts(trx, stored.row, record);
      await countChange(trx, 'updated');
      await notifyKeyChange(trx, keyChangeOf(record));
      return true;
    });
  }

  /** findForMerge for many keys at once: the stored keys among these fingerprints, by fingerprint. */
  async findForMergeMany(fingerprints: string[]): Promise<Map<string, StoredKey>> {
    const found = new Map<string, StoredKey>();
    const unique = [...new Set(fingerprints)];
    for (let start = 0; start < unique.length; start += IN_LIST_CHUNK) {
      const rows = await this.db
        .selectFrom('keys')
        .select(['id', 'fingerprint', 'revision', 'packets'])
        .where('fingerprint', 'in', unique.slice(start, start + IN_LIST_CHUNK))
        .execute();
      for (const row of rows) found.set(row.fingerprint, { row: String(row.id), revision: row.revision, packets: toBytes(row.packets) });
    }
    return found;
  }

  /**
   * Inserts new keys in one transaction, with a few multi-row statements whatever their number (the batch
   * form of insert). For each item: true when inserted, false when its fingerprint was stored already (by
   * another writer, or by an earlier item of the same call).
   */
  async insertMany(items: { record: KeyRecord; packets: Uint8Array }[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    // In fingerprint order: two batches inserting some same keys wait for each other in the same order, never
    // in a circle (a deadlock).
    const rows = items.map((item) => keyColumns(item.record, item.packets)).sort((a, b) => compare(a.fingerprint, b.fingerprint));
    return this.db.transaction().execute(async (trx) => {
      const ids = new Map<string, string>();
      for (const values of statementChunks(rows, (row) => row.size)) {
        const returned = await trx
          .insertInto('keys')
          .values(values)
          .onConflict((oc) => oc.column('fingerprint').doNothing())
          .returning(['id', 'fingerprint'])
          .execute();
        for (const row of returned) ids.set(row.fingerprint, String(row.id));
      }
      const written: { row: string; record: KeyRecord }[] = [];
      const inserted = items.map((item) => {
        const row = ids.get(item.record.fingerprint);
        if (row === undefined) return false;
        ids.delete(item.record.fingerprint); // a later item with the same fingerprint was not inserted
        written.push({ row, record: item.record });
        return true;
      });
      if (written.length > 0) await writeFactsMany(trx, written, 'inserted');
      return inserted;
    });
  }

  /**
   * update for many keys in one transaction (a statement per key for the keys table, a few for the rest). For
   * each item: true when written, false when the key is no longer at the revision its merge started from.
   */
  async updateMany(items: { stored: StoredKey; record: KeyRecord; packets: Uint8Array }[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    // In row order, so that two batches updating some same keys cannot wait for each other in a circle.
    const order = [...items.keys()].sort((a, b) => compare(BigInt(items[a]!.stored.row), BigInt(items[b]!.stored.row)));
    return this.db.transaction().execute(async (trx) => {
      const updated: boolean[] = items.map(() => false);
      for (const n of order) {
        const { stored, record, packets } = items[n]!;
        const result = await trx
          .updateTable('keys')
          .set({ ...keyColumns(record, packets), revision: stored.revision + 1, last_changed: sql`now()` })
          .where('id', '=', stored.row)
          .where('revision', '=', stored.revision)
          .executeTakeFirst();
        updated[n] = Number(result.numUpdatedRows) === 1;
      }
      const written = items.flatMap((item, n) => (updated[n] ? [{ row: item.stored.row, record: item.record }] : []));
      if (written.length === 0) return updated;
      const rows = written.map((w) => w.row);
      for (let start = 0; start < rows.length; start += IN_LIST_CHUNK) {
        const chunk = rows.slice(start, start + IN_LIST_CHUNK);
        await trx.deleteFrom('key_identifiers').where('key_row', 'in', chunk).execute();
        await trx.deleteFrom('user_ids').where('key_row', 'in', chunk).execute();
      }
      await writeFactsMany(trx, written, 'updated');
      return updated;
    });
  }

  /**
   * The leading bytes of stored keys whose primary key has one of these long key IDs (third-party certifiers):
   * enough for the primary key packet, which comes first (key packets are at most a few KB), not whole keys.
   */
  async primaryKeysByKeyId(keyIds: string[]): Promise<Uint8Array[]> {
    return (await this.primaryKeysWithKeyIds(keyIds)).map((k) => k.packets);
  }

  /** primaryKeysByKeyId with each key's long key ID, for any number of key IDs. */
  async primaryKeysWithKeyIds(keyIds: string[]): Promise<{ keyId: string; packets: Uint8Array }[]> {
    const keys: { keyId: string; packets: Uint8Array }[] = [];
    for (let start = 0; start < keyIds.length; start += IN_LIST_CHUNK) {
      const rows = await this.db
        .selectFrom('keys')
        .select(['key_id', sql<Uint8Array>`substring(packets from 1 for ${PRIMARY_PACKET_PREFIX})`.as('packets')])
        .where('id', 'in', this.db.selectFrom('key_identifiers').select('key_row').where('long_id', 'in', keyIds.slice(start, start + IN_LIST_CHUNK)).where('is_primary', '=', true))
        .execute();
      for (const row of rows) keys.push({ keyId: row.key_id, packets: toBytes(row.packets) });
    }
    return keys;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }
}

/** What a write of this key can change for lookups: its (sub)key fingerprints and e-mails. */
export function keyChangeOf(record: KeyRecord): KeyChange {
  const emails = record.userIds.flatMap((u) => (u.email ? [u.email.toLowerCase()] : []));
  return { fingerprints: [record.fingerprint, ...record.subkeys.map((s) => s.fingerprint)], emails: [...new Set(emails)] };
}

function keyColumns(record: KeyRecord, packets: Uint8Array) {
  const primaryUid = record.userIds.find((u) => u.primary && !u.revoked) ?? record.userIds.find((u) => !u.revoked) ?? record.userIds[0];
  return {
    fingerprint: record.fingerprint,
    key_id: record.keyId,
    version: record.version,
    algorithm: record.algorithm,
    bits: record.bits,
    created: record.created,
    expires: record.expires,
    revoked: record.revoked,
    packets,
    size: packets.length,
    user_id_count: record.userIds.length,
    user_attribute_count: record.userAttributes,
    subkey_count: record.subkeys.length,
    signature_count: record.signatures,
    primary_user_id: primaryUid?.text ?? null,
    signature_facts: JSON.stringify(record.signatureFacts),
  };
}

async function insertFacts(trx: Kysely<Database>, row: string, record: KeyRecord): Promise<void> {
  const rows = factRows(row, record);
  await trx.insertInto('key_identifiers').values(rows.identifiers).execute();
  if (rows.userIds.length > 0) await trx.insertInto('user_ids').values(rows.userIds).execute();
}

/** The key_identifiers and user_ids rows of a key (stored in row): one source for single and batch writes. */
function factRows(row: string, record: KeyRecord): { identifiers: Insertable<KeyIdentifiersTable>[]; userIds: Insertable<UserIdsTable>[] } {
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
    })),
    userIds: record.userIds.map((u, position) => ({
      key_row: row,
      position,
      uid: u.text,
      email: u.email && u.email.length <= MAX_INDEXED_EMAIL ? u.email : null,
      words: u.words,
      created: u.created,
      expires: u.expires,
      revoked: u.revoked,
      is_primary: u.primary,
    })),
  };
}

/** insertFacts, countChange and notifyKeyChange for many keys written in one transaction, in a few statements. */
async function writeFactsMany(trx: Kysely<Database>, written: { row: string; record: KeyRecord }[], change: 'inserted' | 'updated'): Promise<void> {
  const facts = written.map((w) => factRows(w.row, w.record));
  for (const values of statementChunks(facts.flatMap((f) => f.identifiers))) await trx.insertInto('key_identifiers').values(values).execute();
  for (const values of statementChunks(facts.flatMap((f) => f.userIds))) await trx.insertInto('user_ids').values(values).execute();
  await notifyKeyChanges(trx, written.map((w) => keyChangeOf(w.record)));
  // Last before the commit: concurrent writers wait for each other on this hourly row until then.
  await countChange(trx, change, written.length);
}

function compare<T extends string | bigint>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Keeps op=stats cheap: one counter row per hour instead of scanning keys. */
async function countChange(trx: Kysely<Database>, column: 'inserted' | 'updated', count = 1): Promise<void> {
  await trx
    .insertInto('key_stats_hourly')
    .values({ hour: sql`date_trunc('hour', now())`, inserted: column === 'inserted' ? count : 0, updated: column === 'updated' ? count : 0 })
    .onConflict((oc) => oc.column('hour').doUpdateSet((eb) => ({ [column]: eb(eb.ref(`key_stats_hourly.${column}`), '+', count) })))
    .execute();
}
