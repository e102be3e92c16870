// Keys in PostgreSQL: the merged key bytes plus the facts lookups need, written together.
import { sql, type Kysely } from 'kysely';
import { AUDIT_INSERT, auditRowsSelect, type AuditEntry } from './auditRepository.js';
import { PREPARED, type Database } from './database.js';
import { KEY_CHANGES_CHANNEL, encodeKeyChange, newWriterId, notifyKeyChanges } from './keyChanges.js';
import type { KeyChange, KeyRecord } from '../vocabulary.js';
import { toBytes } from './keyQueries.js';
import { countChange, factRows, insertFacts, statementChunks } from './keyFactRows.js';
import type { KeyStore, PendingWrite, StoredKey } from './keyStore.js';
import {
  admitPending,
  countPending,
  keysWithStoredIssuers,
  lockIssuerKeyIds,
  settlePending,
  type PendingAdmitter,
  type SweepPart,
} from './pendingCertifications.js';

// Longest primary key packet with its header: RSA 16384 (the largest key size accepted) is about 2.1 KB.
export const PRIMARY_PACKET_PREFIX = 8192;

// Values of an IN (...) list per query: well within the bind-parameter limits (below).
const IN_LIST_CHUNK = 5000;

// Certified keys rewritten per transaction of a sweep (admitAwaiting), and its tries of one when it deadlocks.
const SWEEP_KEYS = 32;
const SWEEP_TRIES = 5;

/** KeyStore on PostgreSQL or PGlite (the contracts are in keyStore.ts). */
export class KeyRepository implements KeyStore {
  /**
   * `writer` names this repository's writes in their change notifications: the server passes its database
   * handle's, so that its own listener skips them (see keyChanges.ts); by default a name nobody listens as.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly writer: string = newWriterId(),
  ) {}

  async findForMerge(fingerprint: string): Promise<StoredKey | null> {
    // Every push of a key starts here: a prepared statement.
    const {
      rows: [row],
    } = await sql<{ id: string; revision: number; packets: Uint8Array }>`${PREPARED}
      select id, revision, packets from keys where fingerprint = ${fingerprint}`.execute(this.db);
    return row ? { row: String(row.id), revision: row.revision, packets: toBytes(row.packets) } : null;
  }

  /**
   * Inserts a new key with its facts, counts it, sends the change notification and appends the audit rows, all in
   * one statement (one round trip, its own transaction); false, with nothing written, when another writer
   * inserted the same fingerprint first. With `pending`, in a transaction that also keeps aside its awaiting
   * certifications and admits those aside that it is the issuer of.
   */
  async insert(record: KeyRecord, packets: Uint8Array, audit: AuditEntry[] = [], pending?: PendingWrite): Promise<boolean> {
    if (!pending) return (await this.insertStatement(this.db, record, packets, audit, true)) !== null;
    if (pending.awaiting.size === 0 && !pending.deferAdmission) return this.insertAdmitting(record, packets, audit, pending);
    return this.withPending(
      pending,
      [record.keyId],
      async (trx) => {
        const row = await this.insertStatement(trx, record, packets, audit, false);
        if (row === null) return { result: false, written: [], counts: {} };
        return { result: true, written: [record.fingerprint], counts: { inserted: 1 } };
      },
      false,
    );
  }

  /**
   * insert of a key that keeps nothing aside (a push's usual new key), in three round trips: its key ID locked,
   * then the one statement, counted and telling whether certifications aside name it (its snapshot is taken
   * after the lock, so it sees those of every writer that held it), and only then their admission.
   */
  private async insertAdmitting(record: KeyRecord, packets: Uint8Array, audit: AuditEntry[], pending: PendingWrite): Promise<boolean> {
    const write = this.db.transaction().execute(async (trx) => {
      pending.kept.clear();
      pending.admitted.splice(0);
      await lockIssuerKeyIds(trx, [record.keyId]);
      const row = await this.insertStatement(trx, record, packets, audit, true);
      if (row === null) return false;
      if (row.awaited) {
        const admitted = await admitPending(
          trx,
          [record.keyId],
          pending.admit,
          (items) => rewriteKeys(trx, items, this.writer, false),
          (keyIds) => primaryKeysWithKeyIds(trx, keyIds),
        );
        pending.admitted.push(...admitted.rewritten);
        await countPending(trx, -admitted.removed);
        if (admitted.rewritten.length > 0) await countChange(trx, 'updated', admitted.rewritten.length);
      }
      return true;
    });
    // A deadlock (in the admission): not written, tried again, as withPending does.
    return write.catch((e: unknown) => {
      if (isDeadlock(e)) return false;
      throw e;
    });
  }

  /**
   * The one statement of insert; the key's row and whether certifications aside name its key ID, or null when
   * the fingerprint is stored already.
   */
  private async insertStatement(
    db: Kysely<Database>,
    record: KeyRecord,
    packets: Uint8Array,
    audit: AuditEntry[],
    count: boolean,
  ): Promise<{ id: string; awaited: boolean } | null> {
    const k = keyColumns(record, packets);
    const facts = factRows('', record);
    // key_row comes from the inserted row; the other columns as factRows gives them.
    const identifiers = JSON.stringify(facts.identifiers.map(({ key_row: _, ...row }) => row));
    const userIds = JSON.stringify(facts.userIds.map(({ key_row: _, ...row }) => row));
    const result = await sql<{ id: string; awaited: boolean }>`${PREPARED}
      with ins as (
        insert into keys (fingerprint, key_id, version, algorithm, bits, created, expires, revoked, packets, size,
          user_id_count, user_attribute_count, subkey_count, signature_count, primary_user_id, signature_facts)
        values (${k.fingerprint}, ${k.key_id}, ${k.version}, ${k.algorithm}, ${k.bits}, ${k.created}, ${k.expires},
          ${k.revoked}, ${k.packets}, ${k.size}, ${k.user_id_count}, ${k.user_attribute_count}, ${k.subkey_count},
          ${k.signature_count}, ${k.primary_user_id}, ${k.signature_facts})
        on conflict (fingerprint) do nothing
        returning id
      ), identifiers as (
        insert into key_identifiers (key_row, is_primary, fingerprint, long_id, short_id, algorithm, bits, created, expires, revoked,
          capabilities, revocation_code, revocation_reason)
        select ins.id, r.is_primary, r.fingerprint, r.long_id, r.short_id, r.algorithm, r.bits, r.created, r.expires, r.revoked,
          r.capabilities, r.revocation_code, r.revocation_reason
        from ins, json_to_recordset(${identifiers}::json) as r(is_primary boolean, fingerprint text, long_id text,
          short_id text, algorithm smallint, bits integer, created bigint, expires bigint, revoked boolean,
          capabilities text, revocation_code smallint, revocation_reason text)
      ), user_ids as (
        insert into user_ids (key_row, position, uid, email, identity, wkd_hash, words, created, expires, revoked, is_primary)
        select ins.id, r.position, r.uid, r.email, r.identity, r.wkd_hash, r.words, r.created, r.expires, r.revoked, r.is_primary
        from ins, json_to_recordset(${userIds}::json) as r(position integer, uid text, email text, identity text, wkd_hash text, words text[],
          created bigint, expires bigint, revoked boolean, is_primary boolean)
      ), counted as (
        insert into key_stats_hourly (hour, inserted, updated)
        select date_trunc('hour', now()), 1, 0 from ins where ${count}::boolean
        on conflict (hour) do update set inserted = key_stats_hourly.inserted + 1
      ), audited as (
        ${AUDIT_INSERT} ${auditRowsSelect(audit)} where exists (select 1 from ins)
      )
      select ins.id, pg_notify(${KEY_CHANGES_CHANNEL}, ${encodeKeyChange(keyChangeOf(record), this.writer)}),
        exists (select 1 from pending_certifications p where p.issuer_key_id = ${k.key_id}) as awaited
      from ins`.execute(db);
    const row = result.rows[0];
    return row ? { id: String(row.id), awaited: row.awaited } : null;
  }

  /**
   * Replaces a key's bytes and facts if it is still at the revision the merge started from; the audit rows are
   * appended in the same transaction when it is written.
   */
  async update(stored: StoredKey, record: KeyRecord, packets: Uint8Array, audit: AuditEntry[] = [], pending?: PendingWrite): Promise<boolean> {
    return this.withPending(
      pending,
      [],
      async (trx) => {
        if (!(await compareAndSwap(trx, stored, record, packets))) return { result: false, written: [], counts: {} };
        // The identifier and user-ID rows are a projection of the packets: rebuilt, never the source of truth.
        await trx.deleteFrom('key_identifiers').where('key_row', '=', stored.row).execute();
        await trx.deleteFrom('user_ids').where('key_row', '=', stored.row).execute();
        await insertFacts(trx, stored.row, record);
        if (audit.length > 0) await sql`${PREPARED}${AUDIT_INSERT} ${auditRowsSelect(audit)}`.execute(trx);
        await notifyKeyChanges(trx, [keyChangeOf(record)], this.writer);
        return { result: true, written: [record.fingerprint], counts: { updated: 1 } };
      },
      false,
    );
  }

  /**
   * Keeps aside the awaiting certifications of a stored key that a push leaves unchanged (and admits those
   * aside whose issuer was stored meanwhile). False when the key could not be locked in time (a deadlock).
   */
  async keepAside(stored: StoredKey, fingerprint: string, pending: PendingWrite): Promise<boolean> {
    return this.withPending(
      pending,
      [],
      async (trx) => {
        // Locked as an update would: the key's count of certifications aside is read and written by one writer.
        await sql`select 1 from keys where id = ${stored.row} for update`.execute(trx);
        return { result: true, written: [fingerprint], counts: {} };
      },
      false,
    );
  }

  /**
   * Runs a key write in one transaction with the certifications aside (when `pending`): the issuer key IDs it
   * involves are locked first (ownKeyIds: of keys it may insert; plus those its awaiting certifications name),
   * then the write, then the keys written keep theirs aside and those aside that these key IDs issued are
   * admitted; the counters last. A deadlock gives `onDeadlock` (a write not made: tried again) or, without
   * one, the error.
   */
  private async withPending<R>(
    pending: PendingWrite | undefined,
    ownKeyIds: string[],
    write: (trx: Kysely<Database>) => Promise<{ result: R; written: string[]; counts: { inserted?: number; updated?: number } }>,
    onDeadlock?: R,
  ): Promise<R> {
    const awaitingIds = pending ? [...pending.awaiting.values()].flatMap((list) => list.map((a) => a.issuerKeyId)) : [];
    try {
      return await this.db.transaction().execute(async (trx) => {
        pending?.kept.clear();
        pending?.admitted.splice(0);
        if (pending && !pending.deferAdmission) await lockIssuerKeyIds(trx, [...ownKeyIds, ...awaitingIds]);
        const { result, written, counts } = await write(trx);
        let updated = counts.updated ?? 0;
        if (pending && written.length > 0) {
          // Admitted certifications are third-party ones: they change the key row's signature facts and counts,
          // never its user-ID and identifier rows (derived from the owner's own signatures), kept as they are.
          updated += await settlePending(
            trx,
            pending,
            written,
            ownKeyIds,
            (items) => rewriteKeys(trx, items, this.writer, false),
            (keyIds) => primaryKeysWithKeyIds(trx, keyIds),
          );
        }
        // Last before the commit: concurrent writers wait for each other on this hourly row until then.
        if (counts.inserted) await countChange(trx, 'inserted', counts.inserted);
        if (updated > 0) await countChange(trx, 'updated', updated);
        return result;
      });
    } catch (e) {
      if (onDeadlock !== undefined && isDeadlock(e)) return onDeadlock;
      throw e;
    }
  }

  /**
   * Admits every certification aside whose issuer is stored (on the certified keys of `part`): a few keys a
   * transaction, which locks each key, merges it with them (`admit`) and rewrites it once. Gives the records of
   * the keys rewritten. No issuer key ID is locked: the sweep admits only what is committed already (issuer and
   * certification both), so it cannot miss what another write is about to store; the key rows it locks, in row
   * order as every write does, keep it from admitting into a key beside another writer.
   */
  async admitAwaiting(admit: PendingAdmitter<KeyRecord>, part: SweepPart = { index: 0, of: 1 }): Promise<KeyRecord[]> {
    const rewritten: KeyRecord[] = [];
    for (let after = ''; ;) {
      const next = await keysWithStoredIssuers(this.db, after, part, SWEEP_KEYS);
      if (next.fingerprints.length === 0) return rewritten;
      after = next.fingerprints.at(-1)!;
      for (let attempt = 1; ; attempt++) {
        try {
          rewritten.push(
            ...(await this.db.transaction().execute(async (trx) => {
              const admitted = await admitPending(
                trx,
                next.issuerKeyIds,
                admit,
                (items) => rewriteKeys(trx, items, this.writer, false),
                (keyIds) => primaryKeysWithKeyIds(trx, keyIds),
                next.fingerprints,
              );
              await countPending(trx, -admitted.removed);
              if (admitted.rewritten.length > 0) await countChange(trx, 'updated', admitted.rewritten.length);
              return admitted.rewritten;
            })),
          );
          break;
        } catch (e) {
          if (!isDeadlock(e) || attempt >= SWEEP_TRIES) throw e;
        }
      }
    }
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
   * another writer, or by an earlier item of the same call). With `pending`, as insert does.
   */
  async insertMany(items: { record: KeyRecord; packets: Uint8Array }[], pending?: PendingWrite): Promise<boolean[]> {
    if (items.length === 0) return [];
    // In fingerprint order: two batches inserting some same keys wait for each other in the same order, never
    // in a circle (a deadlock).
    const rows = items.map((item) => keyColumns(item.record, item.packets)).sort((a, b) => compare(a.fingerprint, b.fingerprint));
    return this.withPending(
      pending,
      items.map((item) => item.record.keyId),
      async (trx) => {
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
        if (written.length > 0) await writeFactsMany(trx, written, this.writer);
        return { result: inserted, written: written.map((w) => w.record.fingerprint), counts: { inserted: written.length } };
      },
    );
  }

  /**
   * update for many keys in one transaction (a statement per key for the keys table, a few for the rest). For
   * each item: true when written, false when the key is no longer at the revision its merge started from.
   * With `pending`, as update does.
   */
  async updateMany(items: { stored: StoredKey; record: KeyRecord; packets: Uint8Array }[], pending?: PendingWrite): Promise<boolean[]> {
    if (items.length === 0) return [];
    return this.withPending(pending, [], async (trx) => {
      const updated = await rewriteKeys(trx, items, this.writer);
      const written = items.filter((_, n) => updated[n]).map((item) => item.record.fingerprint);
      return { result: updated, written, counts: { updated: written.length } };
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
    return primaryKeysWithKeyIds(this.db, keyIds);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }
}

async function primaryKeysWithKeyIds(db: Kysely<Database>, keyIds: string[]): Promise<{ keyId: string; packets: Uint8Array }[]> {
  const keys: { keyId: string; packets: Uint8Array }[] = [];
  for (let start = 0; start < keyIds.length; start += IN_LIST_CHUNK) {
    const rows = await db
      .selectFrom('keys')
      .select(['key_id', sql<Uint8Array>`substring(packets from 1 for ${PRIMARY_PACKET_PREFIX})`.as('packets')])
      .where(
        'id',
        'in',
        db
          .selectFrom('key_identifiers')
          .select('key_row')
          .where('long_id', 'in', keyIds.slice(start, start + IN_LIST_CHUNK))
          .where('is_primary', '=', true),
      )
      .execute();
    for (const row of rows) keys.push({ keyId: row.key_id, packets: toBytes(row.packets) });
  }
  return keys;
}

/**
 * Rewrites keys whose merge started from `stored`, in row order (so that two batches updating some same keys
 * cannot wait for each other in a circle), with their facts (the user-ID and identifier rows only when
 * rebuildFacts) and change notifications; not counted. For each
 * item: true when written, false when the key is no longer at that revision.
 */
async function rewriteKeys(
  trx: Kysely<Database>,
  items: { stored: StoredKey; record: KeyRecord; packets: Uint8Array }[],
  writer: string,
  rebuildFacts = true,
): Promise<boolean[]> {
  const order = [...items.keys()].sort((a, b) => compare(BigInt(items[a]!.stored.row), BigInt(items[b]!.stored.row)));
  const updated: boolean[] = items.map(() => false);
  for (const n of order) {
    const { stored, record, packets } = items[n]!;
    updated[n] = await compareAndSwap(trx, stored, record, packets);
  }
  const written = items.flatMap((item, n) => (updated[n] ? [{ row: item.stored.row, record: item.record }] : []));
  if (written.length === 0) return updated;
  if (!rebuildFacts) {
    await notifyKeyChanges(
      trx,
      written.map((w) => keyChangeOf(w.record)),
      writer,
    );
    return updated;
  }
  const rows = written.map((w) => w.row);
  for (let start = 0; start < rows.length; start += IN_LIST_CHUNK) {
    const chunk = rows.slice(start, start + IN_LIST_CHUNK);
    await trx.deleteFrom('key_identifiers').where('key_row', 'in', chunk).execute();
    await trx.deleteFrom('user_ids').where('key_row', 'in', chunk).execute();
  }
  await writeFactsMany(trx, written, writer);
  return updated;
}

/** A deadlock PostgreSQL broke by failing this transaction (or a serialization failure): to be tried again. */
function isDeadlock(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** What a write of this key can change for lookups: its (sub)key fingerprints and identities. */
export function keyChangeOf(record: KeyRecord): KeyChange {
  const identities = record.userIds.flatMap((u) => (u.identity ? [u.identity] : []));
  return { fingerprints: [record.fingerprint, ...record.subkeys.map((s) => s.fingerprint)], identities: [...new Set(identities)] };
}

/** Writes a key's new bytes and columns if it is still at the revision its merge started from. */
async function compareAndSwap(trx: Kysely<Database>, stored: StoredKey, record: KeyRecord, packets: Uint8Array): Promise<boolean> {
  const result = await trx
    .updateTable('keys')
    .set({ ...keyColumns(record, packets), revision: stored.revision + 1, last_changed: sql`now()` })
    .where('id', '=', stored.row)
    .where('revision', '=', stored.revision)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The user ID a key's listings name it by: its primary one not revoked, else its first not revoked, else its first. */
export function primaryUserIdText(record: KeyRecord): string | null {
  const primaryUid = record.userIds.find((u) => u.primary && !u.revoked) ?? record.userIds.find((u) => !u.revoked) ?? record.userIds[0];
  return primaryUid?.text ?? null;
}

function keyColumns(record: KeyRecord, packets: Uint8Array) {
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
    primary_user_id: primaryUserIdText(record),
    signature_facts: JSON.stringify(record.signatureFacts),
  };
}

/** insertFacts and notifyKeyChanges for many keys written in one transaction, in a few statements (counted by the caller). */
async function writeFactsMany(trx: Kysely<Database>, written: { row: string; record: KeyRecord }[], writer: string): Promise<void> {
  const facts = written.map((w) => factRows(w.row, w.record));
  for (const values of statementChunks(facts.flatMap((f) => f.identifiers))) await trx.insertInto('key_identifiers').values(values).execute();
  for (const values of statementChunks(facts.flatMap((f) => f.userIds))) await trx.insertInto('user_ids').values(values).execute();
  await notifyKeyChanges(
    trx,
    written.map((w) => keyChangeOf(w.record)),
    writer,
  );
}

function compare<T extends string | bigint>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
