// Keys in PostgreSQL: the merged key bytes plus the facts lookups need, written together.
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';
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
      return true;
    });
  }

  /**
   * The leading bytes of stored keys whose primary key has one of these long key IDs (third-party certifiers):
   * enough for the primary key packet, which comes first (key packets are at most a few KB), not whole keys.
   */
  async primaryKeysByKeyId(keyIds: string[]): Promise<Uint8Array[]> {
    if (keyIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('keys')
      .select(sql<Uint8Array>`substring(packets from 1 for ${PRIMARY_PACKET_PREFIX})`.as('packets'))
      .where('id', 'in', this.db.selectFrom('key_identifiers').select('key_row').where('long_id', 'in', keyIds).where('is_primary', '=', true))
      .execute();
    return rows.map((r) => toBytes(r.packets));
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }
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
  const identifiers = [{ ...record, isPrimary: true }, ...record.subkeys.map((s) => ({ ...s, isPrimary: false }))];
  await trx
    .insertInto('key_identifiers')
    .values(identifiers.map((k) => ({
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
    })))
    .execute();
  if (record.userIds.length > 0) {
    await trx
      .insertInto('user_ids')
      .values(record.userIds.map((u, position) => ({
        key_row: row,
        position,
        uid: u.text,
        email: u.email && u.email.length <= MAX_INDEXED_EMAIL ? u.email : null,
        created: u.created,
        expires: u.expires,
        revoked: u.revoked,
        is_primary: u.primary,
      })))
      .execute();
  }
}

/** Keeps op=stats cheap: one counter row per hour instead of scanning keys. */
async function countChange(trx: Kysely<Database>, column: 'inserted' | 'updated'): Promise<void> {
  await trx
    .insertInto('key_stats_hourly')
    .values({ hour: sql`date_trunc('hour', now())`, inserted: column === 'inserted' ? 1 : 0, updated: column === 'updated' ? 1 : 0 })
    .onConflict((oc) => oc.column('hour').doUpdateSet((eb) => ({ [column]: eb(eb.ref(`key_stats_hourly.${column}`), '+', 1) })))
    .execute();
}
