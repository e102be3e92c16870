// Keys in PostgreSQL: the merged key bytes plus the facts lookups need, written together.
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';

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
}

export interface StoredKey {
  row: string;
  revision: number;
  packets: Uint8Array;
}

export type KeyQuery =
  | { kind: 'fingerprint'; fingerprint: string }
  | { kind: 'longId'; keyId: string }
  | { kind: 'shortId'; keyId: string }
  | { kind: 'email'; email: string }
  | { kind: 'exactUserId'; text: string }
  | { kind: 'words'; words: string[] };

export interface FoundKey {
  fingerprint: string;
  version: number;
  packets: Uint8Array;
}

// E-mails longer than any real address are not indexed (keeps the btree index within its row limit).
const MAX_INDEXED_EMAIL = 254;

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
      return true;
    });
  }

  async find(query: KeyQuery, options: { limit: number; versions: number[] }): Promise<FoundKey[]> {
    let q = this.db
      .selectFrom('keys')
      .select(['keys.fingerprint', 'keys.version', 'keys.packets'])
      .where('keys.version', 'in', options.versions);
    switch (query.kind) {
      case 'fingerprint':
      case 'longId':
      case 'shortId': {
        const column = query.kind === 'fingerprint' ? 'fingerprint' : query.kind === 'longId' ? 'long_id' : 'short_id';
        const value = query.kind === 'fingerprint' ? query.fingerprint : query.keyId;
        q = q.where('keys.id', 'in', this.db.selectFrom('key_identifiers').select('key_row').where(column, '=', value));
        break;
      }
      case 'email':
        q = q.where('keys.id', 'in', this.db.selectFrom('user_ids').select('key_row').where('email', '=', query.email.toLowerCase()));
        break;
      case 'exactUserId':
        q = q.where('keys.id', 'in', this.db.selectFrom('user_ids').select('key_row').where(sql`lower(uid)`, '=', query.text.toLowerCase()));
        break;
      case 'words': {
        let sub = this.db.selectFrom('user_ids').select('key_row');
        for (const word of query.words) sub = sub.where(sql`lower(uid)`, 'like', `%${escapeLike(word.toLowerCase())}%`);
        q = q.where('keys.id', 'in', sub);
        break;
      }
    }
    const rows = await q.orderBy('keys.created', 'desc').limit(options.limit).execute();
    return rows.map((r) => ({ fingerprint: r.fingerprint, version: r.version, packets: toBytes(r.packets) }));
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

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}

function toBytes(value: Uint8Array): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(value as ArrayLike<number>);
}
