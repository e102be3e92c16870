// The key store in memory, for service and handler tests without a database: KeyStore, KeyReader, the audit log
// and the hourly counters of op=stats, kept to the contracts of src/store/keyStore.ts. It is held to them by the
// same suite as PGlite and PostgreSQL (test/integration/storeContract.test.ts). What a key matches is what
// KeyRepository writes (factRows, keyChangeOf, primaryUserIdText), never worked out again here.
// A write is a transaction: it works on a copy of the state, which replaces the state when it ends (nothing of
// it is seen before, nothing is left of it when it throws), one write at a time.
import type { AuditEntry, AuditFilter, AuditRow } from '../../src/store/auditRepository.js';
import type { KeyChangeListener, KeyChangeSubscriber } from '../../src/store/keyChanges.js';
import { factRows } from '../../src/store/keyFactRows.js';
import type { Page } from '../../src/store/keyQueries.js';
import { PRIMARY_PACKET_PREFIX, keyChangeOf, primaryUserIdText } from '../../src/store/keyRepository.js';
import type { KeyReader, KeyStore, PendingWrite, StoredKey } from '../../src/store/keyStore.js';
import type { PendingAdmitter, SweepPart } from '../../src/store/pendingCertifications.js';
import type { StoreStats } from '../../src/store/statsRepository.js';
import type { ChangeCounts, FoundKey, IndexRow, KeyChange, KeyQuery, KeyRecord } from '../../src/vocabulary.js';
import { admitAsideInMemory, settlePendingInMemory, type MemoryPending } from './memoryPending.js';

/** A stored key: its row as the keys table holds it, and its identifier and user-ID rows (as factRows makes them). */
export interface MemoryKey {
  row: string;
  revision: number;
  record: KeyRecord;
  packets: Uint8Array;
  facts: ReturnType<typeof factRows>;
}

/** Everything stored. Keys by fingerprint; a write replaces entries, never changes one in place. */
export interface MemoryState {
  keys: Map<string, MemoryKey>;
  pending: MemoryPending[];
  audit: AuditRow[];
  /** Start of the hour (ms) → keys inserted and updated in it. */
  hourly: Map<number, ChangeCounts>;
  lastId: number;
  /** What the write has changed so far, announced when it ends. */
  news: KeyChange[];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const NONE: ChangeCounts = { inserted: 0, updated: 0 };

export class MemoryKeyStore implements KeyStore, KeyReader {
  private state: MemoryState = { keys: new Map(), pending: [], audit: [], hourly: new Map(), lastId: 0, news: [] };
  private writing: Promise<unknown> = Promise.resolve();
  private readonly subscribers = new Set<KeyChangeSubscriber>();

  constructor(private readonly now: () => number = Date.now) {}

  // --- KeyStore ---

  async findForMerge(fingerprint: string): Promise<StoredKey | null> {
    const key = this.state.keys.get(fingerprint);
    return key ? storedOf(key) : null;
  }

  async findForMergeMany(fingerprints: string[]): Promise<Map<string, StoredKey>> {
    const found = new Map<string, StoredKey>();
    for (const fingerprint of fingerprints) {
      const key = this.state.keys.get(fingerprint);
      if (key) found.set(fingerprint, storedOf(key));
    }
    return found;
  }

  insert(record: KeyRecord, packets: Uint8Array, audit: AuditEntry[] = [], pending?: PendingWrite): Promise<boolean> {
    return this.write(pending, [record.keyId], (tx) => {
      if (!insertKey(tx, record, packets)) return { result: false, written: [] };
      appendAudit(tx, audit, this.now());
      count(tx, 'inserted', 1, this.now());
      return { result: true, written: [record.fingerprint] };
    });
  }

  update(stored: StoredKey, record: KeyRecord, packets: Uint8Array, audit: AuditEntry[] = [], pending?: PendingWrite): Promise<boolean> {
    return this.write(pending, [], (tx) => {
      if (!compareAndSwap(tx, stored, record, packets, true)) return { result: false, written: [] };
      appendAudit(tx, audit, this.now());
      count(tx, 'updated', 1, this.now());
      return { result: true, written: [record.fingerprint] };
    });
  }

  keepAside(_stored: StoredKey, fingerprint: string, pending: PendingWrite): Promise<boolean> {
    return this.write(pending, [], () => ({ result: true, written: [fingerprint] }));
  }

  insertMany(items: { record: KeyRecord; packets: Uint8Array }[], pending?: PendingWrite): Promise<boolean[]> {
    if (items.length === 0) return Promise.resolve([]);
    return this.write(
      pending,
      items.map((item) => item.record.keyId),
      (tx) => {
        // Rows numbered in fingerprint order, as KeyRepository inserts them (the order ties in lookups are given in).
        const order = [...items.keys()].sort((a, b) => compareText(items[a]!.record.fingerprint, items[b]!.record.fingerprint) || a - b);
        const inserted: boolean[] = [];
        for (const n of order) inserted[n] = insertKey(tx, items[n]!.record, items[n]!.packets);
        const written = items.filter((_, n) => inserted[n]).map((item) => item.record.fingerprint);
        count(tx, 'inserted', written.length, this.now());
        return { result: inserted, written };
      },
    );
  }

  updateMany(items: { stored: StoredKey; record: KeyRecord; packets: Uint8Array }[], pending?: PendingWrite): Promise<boolean[]> {
    if (items.length === 0) return Promise.resolve([]);
    return this.write(pending, [], (tx) => {
      const updated = items.map((item) => compareAndSwap(tx, item.stored, item.record, item.packets, true));
      const written = items.filter((_, n) => updated[n]).map((item) => item.record.fingerprint);
      count(tx, 'updated', written.length, this.now());
      return { result: updated, written };
    });
  }

  admitAwaiting(admit: PendingAdmitter<KeyRecord>, part: SweepPart = { index: 0, of: 1 }): Promise<KeyRecord[]> {
    return this.transaction(async (tx) => {
      const rewritten = await admitAsideInMemory(tx, part, admit, rewriteAdmitted);
      count(tx, 'updated', rewritten.length, this.now());
      return rewritten;
    });
  }

  async primaryKeysByKeyId(keyIds: string[]): Promise<Uint8Array[]> {
    return primaryKeysIn(this.state, keyIds).map((k) => k.packets);
  }

  async primaryKeysWithKeyIds(keyIds: string[]): Promise<{ keyId: string; packets: Uint8Array }[]> {
    return primaryKeysIn(this.state, keyIds);
  }

  async ping(): Promise<void> {}

  // --- KeyReader ---

  async packets(query: KeyQuery, page: Page): Promise<FoundKey[]> {
    return this.matchingPage(query, page).map((k) => ({ fingerprint: k.record.fingerprint, version: k.record.version, packets: k.packets }));
  }

  async count(query: KeyQuery, versions: number[]): Promise<number> {
    return this.matching(query, versions).length;
  }

  async index(query: KeyQuery, page: Page): Promise<IndexRow[]> {
    return this.matchingPage(query, page).map(indexRowOf);
  }

  async primaryUserIds(keyIds: string[]): Promise<Map<string, string>> {
    const wanted = new Set(keyIds);
    const names = new Map<string, string>();
    for (const key of this.state.keys.values()) {
      const name = primaryUserIdText(key.record);
      if (wanted.has(key.record.keyId) && name !== null) names.set(key.record.keyId, name);
    }
    return names;
  }

  // --- The audit log (AuditRepository's record and list) and the counters (StatsRepository's stats) ---

  /** Appends audit rows on their own (KeyService writes a push's rows left at its end). */
  record(entries: AuditEntry[]): Promise<void> {
    return this.write(undefined, [], (tx) => {
      appendAudit(tx, entries, this.now());
      return { result: undefined, written: [] };
    });
  }

  /** Rows oldest first, optionally for one key, from a time on, the newest `limit` only. */
  async list(filter: AuditFilter = {}): Promise<AuditRow[]> {
    const rows = this.state.audit.filter(
      (r) => (filter.fingerprint === undefined || r.fingerprint === filter.fingerprint) && (filter.since === undefined || r.at >= filter.since),
    );
    return filter.limit === undefined ? rows : rows.slice(Math.max(0, rows.length - filter.limit));
  }

  async stats(): Promise<StoreStats> {
    const now = this.now();
    const hours = [...this.state.hourly].sort(([a], [b]) => a - b);
    const since = (ms: number) => hours.filter(([hour]) => hour > now - ms);
    const sum = (list: typeof hours) => list.reduce((total, [, counts]) => added(total, counts), NONE);
    const days = new Map<string, ChangeCounts>();
    for (const [hour, counts] of since(7 * DAY_MS)) {
      const day = new Date(hour).toISOString().slice(0, 10);
      days.set(day, added(days.get(day) ?? NONE, counts));
    }
    return {
      totalKeys: sum(hours).inserted,
      last24h: sum(since(DAY_MS)),
      last7d: sum(since(7 * DAY_MS)),
      hourly: since(DAY_MS).map(([hour, counts]) => ({ hour: new Date(hour).toISOString(), ...counts })),
      daily: [...days].map(([day, counts]) => ({ day, ...counts })),
    };
  }

  // --- Change announcements (as DatabaseHandle.listenForKeyChanges gives them; every write is heard) ---

  listenForKeyChanges(subscriber: KeyChangeSubscriber): KeyChangeListener {
    this.subscribers.add(subscriber);
    subscriber.listening(true);
    return { close: async () => void this.subscribers.delete(subscriber) };
  }

  /** The stored keys, for tests that look at what a service wrote. */
  get keys(): ReadonlyMap<string, MemoryKey> {
    return this.state.keys;
  }

  /** Certifications kept aside, for tests. */
  get pending(): readonly MemoryPending[] {
    return this.state.pending;
  }

  private matching(query: KeyQuery, versions: number[]): MemoryKey[] {
    return [...this.state.keys.values()].filter((k) => versions.includes(k.record.version) && matches(k, query));
  }

  /** One page of the matching keys: for word searches a user ID equal to the search first, then newest, then oldest row. */
  private matchingPage(query: KeyQuery, page: Page): MemoryKey[] {
    const exact = (k: MemoryKey) => (query.kind === 'words' && k.facts.userIds.some((u) => u.uid.toLowerCase() === query.text.toLowerCase()) ? 1 : 0);
    return this.matching(query, page.versions)
      .sort((a, b) => exact(b) - exact(a) || b.record.created - a.record.created || Number(a.row) - Number(b.row))
      .slice(page.offset, page.offset + page.limit);
  }

  /**
   * One write at a time, on a copy of the state: `change` (which may only add to or replace in the copy), then
   * the certifications aside of the keys written (when `pending`), then the copy is the state and its changes
   * are announced. ownKeyIds: key IDs of keys the write may insert, whose certifications aside it admits.
   */
  private write<R>(
    pending: PendingWrite | undefined,
    ownKeyIds: string[],
    change: (tx: MemoryState) => { result: R; written: string[] },
  ): Promise<R> {
    return this.transaction(async (tx) => {
      pending?.kept.clear();
      pending?.admitted.splice(0);
      const { result, written } = change(tx);
      if (pending && written.length > 0) {
        const rewritten = await settlePendingInMemory(tx, pending, written, ownKeyIds, rewriteAdmitted);
        count(tx, 'updated', rewritten, this.now());
      }
      return result;
    });
  }

  /** Runs `work` on a copy of the state that replaces it when work ends, one at a time; then announces the news. */
  private transaction<R>(work: (tx: MemoryState) => Promise<R>): Promise<R> {
    const run = this.writing.then(async () => {
      const tx: MemoryState = {
        keys: new Map(this.state.keys),
        pending: [...this.state.pending],
        audit: [...this.state.audit],
        hourly: new Map(this.state.hourly),
        lastId: this.state.lastId,
        news: [],
      };
      const result = await work(tx);
      this.state = tx;
      for (const news of tx.news) for (const subscriber of this.subscribers) subscriber.change(news);
      return result;
    });
    this.writing = run.catch(() => undefined);
    return run;
  }
}

/** An admission's rewrite of the certified key (its facts stay: certifications change none of them). */
function rewriteAdmitted(tx: MemoryState, stored: StoredKey, record: KeyRecord, packets: Uint8Array): boolean {
  return compareAndSwap(tx, stored, record, packets, false);
}

function storedOf(key: MemoryKey): StoredKey {
  return { row: key.row, revision: key.revision, packets: key.packets };
}

function insertKey(tx: MemoryState, record: KeyRecord, packets: Uint8Array): boolean {
  if (tx.keys.has(record.fingerprint)) return false;
  const row = String(++tx.lastId);
  tx.keys.set(record.fingerprint, { row, revision: 1, record, packets, facts: factRows(row, record) });
  tx.news.push(keyChangeOf(record));
  return true;
}

/**
 * Writes a key's new bytes and facts if it is still at the revision its merge read. The identifier and user-ID
 * rows are rebuilt when rebuildFacts; a key rewritten with certifications admitted keeps them (as KeyRepository).
 */
export function compareAndSwap(tx: MemoryState, stored: StoredKey, record: KeyRecord, packets: Uint8Array, rebuildFacts: boolean): boolean {
  const key = [...tx.keys.values()].find((k) => k.row === stored.row);
  if (!key || key.revision !== stored.revision) return false;
  const facts = rebuildFacts ? factRows(key.row, record) : key.facts;
  tx.keys.set(key.record.fingerprint, { row: key.row, revision: key.revision + 1, record, packets, facts });
  tx.news.push(keyChangeOf(record));
  return true;
}

function appendAudit(tx: MemoryState, entries: AuditEntry[], now: number): void {
  for (const entry of entries) tx.audit.push({ ...entry, id: String(++tx.lastId), at: new Date(now) });
}

function count(tx: MemoryState, column: 'inserted' | 'updated', n: number, now: number): void {
  if (n === 0) return;
  const hour = now - (now % HOUR_MS);
  tx.hourly.set(hour, added(tx.hourly.get(hour) ?? NONE, { ...NONE, [column]: n }));
}

function added(a: ChangeCounts, b: ChangeCounts): ChangeCounts {
  return { inserted: a.inserted + b.inserted, updated: a.updated + b.updated };
}

/** The leading bytes of stored keys whose primary key has one of these long key IDs, with that key ID. */
export function primaryKeysIn(state: MemoryState, keyIds: string[]): { keyId: string; packets: Uint8Array }[] {
  const wanted = new Set(keyIds);
  return [...state.keys.values()]
    .filter((k) => wanted.has(k.record.keyId))
    .map((k) => ({ keyId: k.record.keyId, packets: k.packets.subarray(0, PRIMARY_PACKET_PREFIX) }));
}

/** Whether a stored key matches a query, by the rows KeyRepository writes (each kind as keyQueries.ts asks). */
function matches(key: MemoryKey, query: KeyQuery): boolean {
  const { identifiers, userIds } = key.facts;
  switch (query.kind) {
    case 'fingerprint':
      return identifiers.some((i) => i.fingerprint === query.fingerprint);
    case 'longId':
      return identifiers.some((i) => i.long_id === query.keyId);
    case 'shortId':
      return identifiers.some((i) => i.short_id === query.keyId);
    case 'identity':
      return userIds.some((u) => u.identity === query.identity);
    case 'exactUserId':
      return userIds.some((u) => u.uid.toLowerCase() === query.text.toLowerCase() || (query.identity !== null && u.identity === query.identity));
    case 'words':
      return userIds.some((u) => query.words.every((w) => u.words.includes(w)));
  }
}

function indexRowOf(key: MemoryKey): IndexRow {
  const r = key.record;
  const subkeys = key.facts.identifiers
    .filter((i) => !i.is_primary)
    .sort((a, b) => Number(a.created) - Number(b.created) || compareText(a.fingerprint, b.fingerprint));
  return {
    fingerprint: r.fingerprint,
    keyId: r.keyId,
    version: r.version,
    algorithm: r.algorithm,
    bits: r.bits,
    created: r.created,
    expires: r.expires,
    revoked: r.revoked,
    userIds: key.facts.userIds.map((u) => ({
      text: u.uid,
      created: Number(u.created),
      expires: u.expires === null ? null : Number(u.expires),
      revoked: u.revoked,
    })),
    subkeys: subkeys.map((s) => ({
      fingerprint: s.fingerprint,
      keyId: s.long_id,
      algorithm: s.algorithm,
      bits: s.bits,
      created: Number(s.created),
      expires: s.expires === null ? null : Number(s.expires),
      revoked: s.revoked,
    })),
    signatureFacts: r.signatureFacts,
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
