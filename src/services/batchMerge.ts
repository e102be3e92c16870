// Merging a batch of keys (keystore import) with few database round trips: the stored keys and their certifiers
// read in one query each, the new keys inserted together, the changed stored keys updated together, and what is
// left merged one by one (KeyMerger).
import {
  certifierKeyIds,
  parseUploadedCert,
  writePackets,
  type Cert,
  type Dropped,
  type IssuerLookup,
  type MergeResult,
  type Packet,
} from '../openpgp/index.js';
import type { KeyStore, PendingWrite, StoredKey } from '../store/keyStore.js';
import type { KeyRecord } from '../vocabulary.js';
import { auditedOutcome, yieldToEventLoop, type KeyMerger, type ParsedKey } from './keyMerger.js';
import type { KeyOutcome, SubmitContext } from './keyService.js';

/** See KeyService.submitKeys: what becomes of each key is told through `accepted` and `failed`, by index. */
export async function mergeBatch(
  merger: KeyMerger,
  keys: Packet[][],
  context: SubmitContext,
  accepted: (i: number, outcome: KeyOutcome, audited?: KeyOutcome) => void,
  failed: (i: number, e: unknown) => void,
): Promise<void> {
  const { keys: store, options } = merger;
  const parsed: (ParsedKey | null)[] = [];
  for (const [i, packets] of keys.entries()) {
    await yieldToEventLoop();
    try {
      parsed[i] = await parseUploadedCert(packets, options.limits);
    } catch (e) {
      parsed[i] = null;
      failed(i, e);
    }
  }
  const valid = [...parsed.entries()].filter((entry): entry is [number, ParsedKey] => entry[1] !== null);
  let stored: Map<string, StoredKey>;
  let issuers: BatchIssuers;
  try {
    stored = await store.findForMergeMany(valid.map(([, p]) => p.cert.primary.fingerprint));
    issuers = await BatchIssuers.load(
      store,
      valid.flatMap(([, p]) => certifierKeyIds(p.cert)),
    );
  } catch (e) {
    for (const [i] of valid) failed(i, e);
    return;
  }

  // New keys: merged (verified) here, inserted together. The others, after them, one by one.
  const fresh: { i: number; parsed: ParsedKey; merged: MergeResult; record: KeyRecord; dropped: Dropped[] }[] = [];
  const oneByOne: number[] = [];
  const seen = new Set<string>();
  for (const [i, p] of valid) {
    await yieldToEventLoop();
    const fingerprint = p.cert.primary.fingerprint;
    if (stored.has(fingerprint) || seen.has(fingerprint)) {
      oneByOne.push(i);
    } else {
      try {
        const step = await merger.mergeStep(p, context, issuers.lookup, null);
        if ('outcome' in step) throw new Error('a new key cannot be unchanged');
        fresh.push({ i, parsed: p, ...step });
        issuers.add(p.cert); // the keys after it in the batch may be certified by it
      } catch (e) {
        failed(i, e);
      }
    }
    seen.add(fingerprint);
  }
  let inserted: boolean[];
  const freshPending = merger.pendingFor(fresh.map((f) => [f.record.fingerprint, f.merged.awaitingIssuer]));
  try {
    inserted = await store.insertMany(
      fresh.map((f) => ({ record: f.record, packets: f.merged.bytes })),
      freshPending,
    );
  } catch {
    // Stored by none of them (e.g. a deadlock, a row the database refused): each key on its own below. They
    // are reported written all the same, in case the failure came after the commit.
    for (const f of fresh) {
      issuers.remove(f.parsed.cert);
      merger.reportWritten(f.record);
    }
    inserted = [];
  }
  // Not inserted: another writer inserted it first (merged with theirs below), or the insert failed.
  oneByOne.push(...settleBatchWrite(merger, fresh, inserted, freshPending, accepted));

  // Stored keys (first copy in the batch): merged with the key as read above, the changed ones written together.
  const updates: { i: number; stored: StoredKey; merged: MergeResult; record: KeyRecord; dropped: Dropped[] }[] = [];
  const rest: number[] = [];
  const first = new Set<string>();
  for (const i of oneByOne.sort((a, b) => a - b)) {
    const p = parsed[i]!;
    const fingerprint = p.cert.primary.fingerprint;
    const storedKey = first.has(fingerprint) ? undefined : stored.get(fingerprint);
    first.add(fingerprint);
    if (!storedKey) {
      rest.push(i); // a later copy sees the first one's write; a lost insert, the other writer's key
      continue;
    }
    await yieldToEventLoop();
    try {
      const same = await merger.storedAsIs(keys[i]!, fingerprint, storedKey, context);
      if (same) {
        accepted(i, same);
        continue;
      }
      const step = await merger.mergeStep(p, context, issuers.lookup, storedKey);
      // Unchanged but with certifications to keep aside: on its own below (KeyStore.keepAside).
      if ('outcome' in step && step.awaiting.length > 0) rest.push(i);
      else if ('outcome' in step) accepted(i, step.outcome);
      else updates.push({ i, stored: storedKey, ...step });
    } catch (e) {
      failed(i, e);
    }
  }
  let updated: boolean[];
  const updatesPending = merger.pendingFor(updates.map((u) => [u.record.fingerprint, u.merged.awaitingIssuer]));
  try {
    updated = await store.updateMany(
      updates.map((u) => ({ stored: u.stored, record: u.record, packets: u.merged.bytes })),
      updatesPending,
    );
  } catch {
    for (const u of updates) merger.reportWritten(u.record); // in case the failure came after the commit
    updated = [];
  }
  // Not updated: changed meanwhile by another writer (or not written): merged again, on its own.
  rest.push(...settleBatchWrite(merger, updates, updated, updatesPending, accepted));

  // The rest one by one, in batch order (a key's retry before its later copies).
  for (const i of rest.sort((a, b) => a - b)) {
    try {
      accepted(i, await merger.mergeParsed(parsed[i]!, context, issuers.lookup));
    } catch (e) {
      failed(i, e);
    }
  }
}

/**
 * After a batch write: each key written is reported and accepted with its settled outcome; gives back, in order,
 * the batch indexes of the keys not written.
 */
function settleBatchWrite(
  merger: KeyMerger,
  items: { i: number; merged: MergeResult; record: KeyRecord; dropped: Dropped[] }[],
  written: boolean[],
  pending: PendingWrite,
  accepted: (i: number, outcome: KeyOutcome, audited?: KeyOutcome) => void,
): number[] {
  merger.reportAdmitted(
    pending,
    items.filter((_, n) => written[n]).map((w) => w.record.fingerprint),
  );
  const left: number[] = [];
  for (const [n, w] of items.entries()) {
    if (!written[n]) {
      left.push(w.i);
      continue;
    }
    merger.reportWritten(w.record);
    const outcome = { status: w.merged.status, fingerprint: w.record.fingerprint, dropped: w.dropped, added: w.merged.added };
    accepted(w.i, merger.settledOutcome(outcome, w.merged.awaitingIssuer, pending), auditedOutcome(outcome, w.merged.awaitingIssuer));
  }
  return left;
}

/**
 * Third-party certifiers for the merges of one batch: the stored ones among every key ID the batch's keys name,
 * read in one query, plus the batch's own new keys as they are accepted. Key IDs not read up front (none, as
 * certifierKeyIds names all mergeCert can ask for) are looked up in the store.
 */
class BatchIssuers {
  private readonly byKeyId = new Map<string, Uint8Array[]>();
  private readonly batchKeys = new Map<string, Uint8Array>();

  private constructor(
    private readonly keys: KeyStore,
    private readonly loaded: Set<string>,
  ) {}

  static async load(keys: KeyStore, keyIds: string[]): Promise<BatchIssuers> {
    const unique = [...new Set(keyIds)];
    const issuers = new BatchIssuers(keys, new Set(unique));
    for (const key of await keys.primaryKeysWithKeyIds(unique)) issuers.put(key.keyId, key.packets);
    return issuers;
  }

  /** A key of the batch that will be stored (its primary key packet is all a certification check needs). */
  add(cert: Cert): void {
    const bytes = writePackets([cert.primary.packet]);
    this.batchKeys.set(cert.primary.fingerprint, bytes);
    this.put(cert.primary.keyId, bytes);
  }

  /** A key of the batch that was not stored after all. */
  remove(cert: Cert): void {
    const bytes = this.batchKeys.get(cert.primary.fingerprint);
    if (!bytes) return;
    this.batchKeys.delete(cert.primary.fingerprint);
    const list = this.byKeyId.get(cert.primary.keyId)?.filter((b) => b !== bytes) ?? [];
    if (list.length > 0) this.byKeyId.set(cert.primary.keyId, list);
    else this.byKeyId.delete(cert.primary.keyId);
  }

  readonly lookup: IssuerLookup = async (keyIds) => {
    const found = keyIds.flatMap((id) => this.byKeyId.get(id) ?? []);
    const unknown = keyIds.filter((id) => !this.loaded.has(id));
    if (unknown.length > 0) found.push(...(await this.keys.primaryKeysByKeyId(unknown)));
    return found;
  };

  private put(keyId: string, bytes: Uint8Array): void {
    this.byKeyId.set(keyId, [...(this.byKeyId.get(keyId) ?? []), bytes]);
  }
}
