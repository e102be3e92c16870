// Third-party certifications kept aside until their issuer's key is stored (table pending_certifications;
// nothing serves it). They are written, and admitted into the keys they certify, only inside the transactions
// that write keys (keyRepository.ts), which take a lock on each issuer key ID involved first: a transaction
// storing a key and one keeping aside a certification naming that key's ID cannot both miss the other, so no
// certification stays aside once its issuer is stored (see docs/certifications.md).
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { PREPARED, type Database } from './database.js';
import { toBytes } from './keyQueries.js';

/** A certification whose issuer is not stored, as the merge found it. */
export interface AwaitingCertification {
  userIdDigest: string;
  issuerKeyId: string;
  issuerFingerprint: string | null;
  /** The signature packet's body. */
  signature: Uint8Array;
  /** Unix seconds. */
  created: number;
}

export interface PendingCertification extends AwaitingCertification {
  id: string;
  keyFingerprint: string;
}

export interface PendingBounds {
  maxPerKey: number;
  maxTotal: number;
}

/** What became of a key's awaiting certifications: the first `kept` (in the order given) are aside; the rest not, for `full`. */
export interface KeptAside {
  kept: number;
  /** Why the others were not kept: the key's bound, or the store's. */
  full: 'key' | 'total' | null;
}

// Issuer key IDs are locked by stripe (their hash modulo this): a transaction holds at most this many advisory
// locks whatever its number of key IDs (PostgreSQL's shared lock table has room for 6,400 by default).
const LOCK_STRIPES = 1024;
// First half of the advisory lock's two-part key: keystore's issuer key ID stripes.
const LOCK_SPACE = 0x6b73;

/**
 * Locks the stripes of these long key IDs until the transaction ends, in one order for every transaction (the
 * stripe number), so that two transactions never wait for each other in a circle. First in a transaction.
 */
export async function lockIssuerKeyIds(trx: Kysely<Database>, keyIds: string[]): Promise<void> {
  if (keyIds.length === 0) return;
  const stripes = [...new Set(keyIds.map(stripeOf))].sort((a, b) => a - b);
  // Prepared: the first statement of every key write (a push of a new key among them), planned once per connection.
  await sql`${PREPARED}select pg_advisory_xact_lock(${LOCK_SPACE}, s) from unnest(${sql.val(stripes)}::integer[]) as s`.execute(trx);
}

function stripeOf(keyId: string): number {
  return createHash('sha256').update(keyId).digest().readUInt16BE(0) % LOCK_STRIPES;
}

/**
 * Keeps aside the awaiting certifications of keys written in this transaction (their rows locked by it), within
 * the bounds: those kept aside already count once, new ones go in order while there is room (each key's, then
 * the store's, as read at the start of the transaction's turn). Returns, by fingerprint, what was kept, and the
 * number of rows added.
 */
export async function keepAside(
  trx: Kysely<Database>,
  keys: Map<string, AwaitingCertification[]>,
  bounds: PendingBounds,
): Promise<{ kept: Map<string, KeptAside>; added: number }> {
  const kept = new Map<string, KeptAside>();
  const fingerprints = [...keys].filter(([, awaiting]) => awaiting.length > 0).map(([fingerprint]) => fingerprint);
  if (fingerprints.length === 0) return { kept, added: 0 };
  const { rows: existing } = await sql<{ key_fingerprint: string; user_id_digest: string; signature_digest: string }>`
    select key_fingerprint, user_id_digest, signature_digest from pending_certifications
    where key_fingerprint = any(${sql.val(fingerprints)}::text[])`.execute(trx);
  const {
    rows: [total],
  } = await sql<{ count: string }>`select count from pending_certification_count where id = 1`.execute(trx);
  const aside = new Map<string, Set<string>>(fingerprints.map((f) => [f, new Set()]));
  for (const r of existing) aside.get(r.key_fingerprint)?.add(`${r.user_id_digest}:${r.signature_digest}`);
  let totalRoom = bounds.maxTotal - Number(total?.count ?? 0);
  const rows: Record<string, unknown>[] = [];
  for (const fingerprint of fingerprints) {
    const identities = aside.get(fingerprint)!;
    let keyRoom = bounds.maxPerKey - identities.size;
    let n = 0;
    let full: KeptAside['full'] = null;
    for (const a of keys.get(fingerprint)!) {
      const digest = signatureDigest(a.signature);
      const identity = `${a.userIdDigest}:${digest}`;
      if (!identities.has(identity)) {
        if (keyRoom <= 0 || totalRoom <= 0) {
          full = keyRoom <= 0 ? 'key' : 'total';
          break;
        }
        identities.add(identity);
        keyRoom--;
        totalRoom--;
        rows.push({
          key_fingerprint: fingerprint,
          user_id_digest: a.userIdDigest,
          issuer_key_id: a.issuerKeyId,
          issuer_fingerprint: a.issuerFingerprint,
          signature: a.signature,
          signature_digest: digest,
          created: a.created,
        });
      }
      n++;
    }
    kept.set(fingerprint, { kept: n, full });
  }
  const db = trx as unknown as Kysely<{ pending_certifications: Record<string, unknown> }>;
  let added = 0;
  // 7 values a row: 4,000 rows a statement stay well within the bind-parameter limits.
  for (let start = 0; start < rows.length; start += 4000) {
    const values = rows.slice(start, start + 4000);
    added += (
      await db
        .insertInto('pending_certifications')
        .values(values)
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .execute()
    ).length;
  }
  return { kept, added };
}

function signatureDigest(signature: Uint8Array): string {
  return createHash('sha256').update(signature).digest('hex');
}

/**
 * Certifications kept aside whose issuer is stored now, by certified key: those whose issuer is one of these long
 * key IDs, or (`on`) those on these certified keys whose issuer is one of them.
 */
export async function pendingWithStoredIssuer(trx: Kysely<Database>, keyIds: string[], on?: string[]): Promise<Map<string, PendingCertification[]>> {
  const byKey = new Map<string, PendingCertification[]>();
  if (keyIds.length === 0 || on?.length === 0) return byKey;
  const onKeys = on ? sql`and p.key_fingerprint = any(${sql.val(on)}::text[])` : sql``;
  const { rows } = await sql<{
    id: string;
    key_fingerprint: string;
    user_id_digest: string;
    issuer_key_id: string;
    issuer_fingerprint: string | null;
    signature: Uint8Array;
    created: string;
  }>`
    select p.id, p.key_fingerprint, p.user_id_digest, p.issuer_key_id, p.issuer_fingerprint, p.signature, p.created
    from pending_certifications p
    where p.issuer_key_id = any(${sql.val([...new Set(keyIds)])}::text[]) ${onKeys}
      and exists (select 1 from key_identifiers k where k.long_id = p.issuer_key_id and k.is_primary)
    order by p.key_fingerprint, p.id`.execute(trx);
  for (const r of rows) {
    const p: PendingCertification = {
      id: String(r.id),
      keyFingerprint: r.key_fingerprint,
      userIdDigest: r.user_id_digest,
      issuerKeyId: r.issuer_key_id,
      issuerFingerprint: r.issuer_fingerprint,
      signature: toBytes(r.signature),
      created: Number(r.created),
    };
    byKey.set(p.keyFingerprint, [...(byKey.get(p.keyFingerprint) ?? []), p]);
  }
  return byKey;
}

/** Which of the keys of a sweep (see KeyStore.admitAwaiting) to take: those whose fingerprint hashes to `index` modulo `of`. */
export interface SweepPart {
  index: number;
  of: number;
}

/**
 * Up to `limit` keys (fingerprints, in order, after `after`) of this part with certifications aside whose issuer
 * is stored, and the issuer key IDs of those certifications: a sweep's next step (no lock taken).
 */
export async function keysWithStoredIssuers(
  db: Kysely<Database>,
  after: string,
  part: SweepPart,
  limit: number,
): Promise<{ fingerprints: string[]; issuerKeyIds: string[] }> {
  const { rows } = await sql<{ key_fingerprint: string; issuers: string[] }>`
    select p.key_fingerprint, array_agg(distinct p.issuer_key_id) as issuers
    from pending_certifications p
    where p.key_fingerprint > ${after}
      and (hashtext(p.key_fingerprint) & 2147483647) % ${part.of}::integer = ${part.index}::integer
      and exists (select 1 from key_identifiers k where k.long_id = p.issuer_key_id and k.is_primary)
    group by p.key_fingerprint
    order by p.key_fingerprint
    limit ${limit}`.execute(db);
  return { fingerprints: rows.map((r) => r.key_fingerprint), issuerKeyIds: [...new Set(rows.flatMap((r) => r.issuers))] };
}

/** Removes settled certifications (admitted or refused for good); returns how many went. */
export async function removePending(trx: Kysely<Database>, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await sql`delete from pending_certifications where id = any(${sql.val(ids)}::bigint[])`.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/** Keeps the store's count of certifications aside in step with its rows; last in a transaction (one row every writer takes). */
export async function countPending(trx: Kysely<Database>, change: number): Promise<void> {
  if (change === 0) return;
  await sql`update pending_certification_count set count = count + ${change} where id = 1`.execute(trx);
}

/**
 * Certifications kept aside for one write call: what to keep aside of the keys written, and, filled in when the
 * write commits, what was kept and which other keys gained certifications aside because this write stored
 * their issuer (rewritten with a new revision). T: the caller's record of a key's facts.
 */
export interface PendingWriteOf<T> {
  bounds: PendingBounds;
  admit: PendingAdmitter<T>;
  /** Awaiting certifications of the keys written, by fingerprint. */
  awaiting: Map<string, AwaitingCertification[]>;
  /**
   * Keep aside only, admit nothing: the caller sweeps later (KeyStore.admitAwaiting), so a bulk import rewrites
   * a key certified by many keys after it once, not once per batch that stores one of them. No issuer key ID is
   * locked: the sweep, which locks them, finds whatever such a write kept aside.
   */
  deferAdmission?: boolean;
  kept: Map<string, KeptAside>;
  admitted: T[];
}

/**
 * After a write (its issuer key IDs locked first, see lockIssuerKeyIds): the keys written keep their awaiting
 * certifications aside, those aside whose issuer is one of ownKeyIds (keys the write inserted) or one the
 * written keys wait for are admitted, and the store's count follows. Returns the number of keys rewritten.
 */
export async function settlePending<T>(
  trx: Kysely<Database>,
  pending: PendingWriteOf<T>,
  written: string[],
  ownKeyIds: string[],
  rewrite: (items: { stored: LockedKey; record: T; packets: Uint8Array }[]) => Promise<boolean[]>,
  primaryKeys: (keyIds: string[]) => Promise<{ keyId: string; packets: Uint8Array }[]>,
): Promise<number> {
  const aside = await keepAside(trx, new Map(written.map((f) => [f, pending.awaiting.get(f) ?? []])), pending.bounds);
  const waiting: string[] = [];
  for (const [fingerprint, kept] of aside.kept) {
    pending.kept.set(fingerprint, kept);
    waiting.push(
      ...pending.awaiting
        .get(fingerprint)!
        .slice(0, kept.kept)
        .map((a) => a.issuerKeyId),
    );
  }
  const admitted = pending.deferAdmission
    ? { rewritten: [], removed: 0 }
    : await admitPending(trx, [...ownKeyIds, ...waiting], pending.admit, rewrite, primaryKeys);
  pending.admitted.push(...admitted.rewritten);
  await countPending(trx, aside.added - admitted.removed);
  return admitted.rewritten.length;
}

/** A stored key, locked for the transaction, with its fingerprint. */
export interface LockedKey {
  row: string;
  revision: number;
  fingerprint: string;
  packets: Uint8Array;
}

/**
 * Decides what becomes of a key's certifications aside whose issuer is stored: the key's new bytes and facts when
 * some are admitted (T: the caller's record type), and the ids of those done with (admitted or refused for good).
 */
export type PendingAdmitter<T> = (
  key: LockedKey,
  pending: PendingCertification[],
  issuers: Uint8Array[],
) => Promise<{ write: { record: T; packets: Uint8Array } | null; settled: string[] }>;

/**
 * Admits the certifications aside whose issuer, one of these long key IDs (locked by this transaction), is
 * stored now (`on`: only those on these certified keys): each certified key is locked, merged with them (admit), rewritten (rewrite: compare-and-swap, a
 * new revision, facts and change notification) and the settled rows removed. Returns the keys rewritten and the
 * number of rows removed.
 */
export async function admitPending<T>(
  trx: Kysely<Database>,
  keyIds: string[],
  admit: PendingAdmitter<T>,
  rewrite: (items: { stored: LockedKey; record: T; packets: Uint8Array }[]) => Promise<boolean[]>,
  primaryKeys: (keyIds: string[]) => Promise<{ keyId: string; packets: Uint8Array }[]>,
  on?: string[],
): Promise<{ rewritten: T[]; removed: number }> {
  const byKey = await pendingWithStoredIssuer(trx, keyIds, on);
  if (byKey.size === 0) return { rewritten: [], removed: 0 };
  const issuerIds = new Set([...byKey.values()].flatMap((list) => list.map((p) => p.issuerKeyId)));
  const issuers = new Map<string, Uint8Array[]>();
  for (const key of await primaryKeys([...issuerIds])) issuers.set(key.keyId, [...(issuers.get(key.keyId) ?? []), key.packets]);
  // In row order, as every batch write locks keys.
  const { rows } = await sql<{ id: string; revision: number; fingerprint: string; packets: Uint8Array }>`
    select id, revision, fingerprint, packets from keys where fingerprint = any(${sql.val([...byKey.keys()])}::text[])
    order by id for update`.execute(trx);
  const writes: { stored: LockedKey; record: T; packets: Uint8Array }[] = [];
  const settled: string[] = [];
  for (const row of rows) {
    const key: LockedKey = { row: String(row.id), revision: row.revision, fingerprint: row.fingerprint, packets: toBytes(row.packets) };
    const pending = byKey.get(key.fingerprint)!;
    // Only this key's certifiers: each one given is read (its key packet parsed) by the merge.
    const certifiers = [...new Set(pending.map((p) => p.issuerKeyId))].flatMap((id) => issuers.get(id) ?? []);
    const decided = await admit(key, pending, certifiers);
    settled.push(...decided.settled);
    if (decided.write) writes.push({ stored: key, ...decided.write });
  }
  const written = writes.length > 0 ? await rewrite(writes) : [];
  // A key not rewritten (it cannot be: it is locked) keeps its certifications aside.
  const kept = new Set(writes.flatMap((w, n) => (written[n] ? [] : byKey.get(w.stored.fingerprint)!.map((p) => p.id))));
  const removed = await removePending(
    trx,
    settled.filter((id) => !kept.has(id)),
  );
  return { rewritten: writes.filter((_, n) => written[n]).map((w) => w.record), removed };
}
