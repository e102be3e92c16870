// What services need of the key store, written once: `KeyStore` (the write path of a merge) and `KeyReader`
// (lookups). KeyRepository and KeyQueries implement them on PostgreSQL and PGlite alike, test/helpers/memoryStore.ts
// in memory for service tests; test/integration/storeContract.test.ts holds all three to these contracts.
import type { AuditEntry } from './auditRepository.js';
import type { Page } from './keyQueries.js';
import type { PendingAdmitter, PendingWriteOf, SweepPart } from './pendingCertifications.js';
import type { FoundKey, IndexRow, KeyQuery, KeyRecord } from '../vocabulary.js';

/** A stored key as a merge reads it: its row, the revision a compare-and-swap update checks, its bytes. */
export interface StoredKey {
  row: string;
  revision: number;
  packets: Uint8Array;
}

/** Certifications kept aside until their issuer is stored, for one write call (see pendingCertifications.ts). */
export type PendingWrite = PendingWriteOf<KeyRecord>;

export interface KeyStore {
  /** The stored key with this primary fingerprint, or null. */
  findForMerge(fingerprint: string): Promise<StoredKey | null>;
  /** findForMerge for many keys at once: the stored keys among these fingerprints, by fingerprint. */
  findForMergeMany(fingerprints: string[]): Promise<Map<string, StoredKey>>;
  /**
   * Inserts a new key with its facts, counts it, sends the change notification and appends the audit rows, all in
   * one transaction; false, with nothing written, when another writer inserted the same fingerprint first. With
   * `pending`, the same transaction also keeps aside its awaiting certifications and admits those aside that it
   * is the issuer of.
   */
  insert(record: KeyRecord, packets: Uint8Array, audit?: AuditEntry[], pending?: PendingWrite): Promise<boolean>;
  /**
   * Replaces a key's bytes and facts if it is still at the revision the merge started from (compare-and-swap;
   * false, with nothing written, when it is not); the audit rows and the change notification go in the same
   * transaction. With `pending`, as insert.
   */
  update(stored: StoredKey, record: KeyRecord, packets: Uint8Array, audit?: AuditEntry[], pending?: PendingWrite): Promise<boolean>;
  /**
   * Keeps aside the awaiting certifications of a stored key that a push leaves unchanged (and admits those
   * aside whose issuer was stored meanwhile). False when the key could not be locked in time (a deadlock).
   */
  keepAside(stored: StoredKey, fingerprint: string, pending: PendingWrite): Promise<boolean>;
  /**
   * Admits every certification kept aside whose issuer is stored now (of the certified keys of `part`, all by
   * default), as the writes that store an issuer do: each certified key merged with them (`admit`), rewritten
   * once (a new revision, facts, change notification, counted as updated) and the settled ones removed. The
   * sweep after writes made with `deferAdmission`. Gives the records of the keys rewritten.
   */
  admitAwaiting(admit: PendingAdmitter<KeyRecord>, part?: SweepPart): Promise<KeyRecord[]>;
  /**
   * Inserts new keys in one transaction (the batch form of insert). For each item: true when inserted, false
   * when its fingerprint was stored already (by another writer, or by an earlier item of the same call).
   */
  insertMany(items: { record: KeyRecord; packets: Uint8Array }[], pending?: PendingWrite): Promise<boolean[]>;
  /**
   * update for many keys in one transaction. For each item: true when written, false when the key is no longer
   * at the revision its merge started from.
   */
  updateMany(items: { stored: StoredKey; record: KeyRecord; packets: Uint8Array }[], pending?: PendingWrite): Promise<boolean[]>;
  /**
   * The leading bytes of stored keys whose primary key has one of these long key IDs (third-party certifiers):
   * enough for the primary key packet, which comes first, not whole keys.
   */
  primaryKeysByKeyId(keyIds: string[]): Promise<Uint8Array[]>;
  /** primaryKeysByKeyId with each key's long key ID, for any number of key IDs. */
  primaryKeysWithKeyIds(keyIds: string[]): Promise<{ keyId: string; packets: Uint8Array }[]>;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
}

export interface KeyReader {
  /** The matching keys' bytes (one page, of the page's key versions), exact matches first, then newest. */
  packets(query: KeyQuery, page: Page): Promise<FoundKey[]>;
  /** How many keys of these versions match, all pages together. */
  count(query: KeyQuery, versions: number[]): Promise<number>;
  /** Index facts of the matching keys (one page, ordered as packets), with user IDs and subkeys. */
  index(query: KeyQuery, page: Page): Promise<IndexRow[]>;
  /** Primary user IDs of stored keys by long key ID, to name signature issuers. */
  primaryUserIds(keyIds: string[]): Promise<Map<string, string>>;
}
