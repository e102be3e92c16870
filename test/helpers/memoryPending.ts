// Certifications kept aside until their issuer is stored, in the memory store (memoryStore.ts): what
// src/store/pendingCertifications.ts does in SQL, inside a write of the memory store, to the same rules.
import type { PendingWrite, StoredKey } from '../../src/store/keyStore.js';
import type { KeptAside, LockedKey, PendingAdmitter, PendingCertification, SweepPart } from '../../src/store/pendingCertifications.js';
import type { KeyRecord } from '../../src/vocabulary.js';
import { primaryKeysIn, type MemoryState } from './memoryStore.js';

/** A certification aside; dedupe: what makes it one (the user ID it certifies and its signature's bytes). */
export interface MemoryPending extends PendingCertification {
  dedupe: string;
}

type Rewrite = (tx: MemoryState, stored: StoredKey, record: KeyRecord, packets: Uint8Array) => boolean;

/**
 * After a write: the keys written keep their awaiting certifications aside (within the bounds, those aside
 * already counted once), then the certifications aside whose issuer is one of ownKeyIds or one the written keys
 * wait for, and is stored, are admitted (the certified key rewritten with `rewrite`). Returns the number of
 * keys rewritten.
 */
export async function settlePendingInMemory(
  tx: MemoryState,
  pending: PendingWrite,
  written: string[],
  ownKeyIds: string[],
  rewrite: Rewrite,
): Promise<number> {
  const waiting: string[] = [];
  let totalRoom = pending.bounds.maxTotal - tx.pending.length;
  for (const fingerprint of written) {
    const awaiting = pending.awaiting.get(fingerprint) ?? [];
    if (awaiting.length === 0) continue;
    const aside = new Set(tx.pending.filter((p) => p.keyFingerprint === fingerprint).map((p) => p.dedupe));
    let keyRoom = pending.bounds.maxPerKey - aside.size;
    const kept: KeptAside = { kept: 0, full: null };
    for (const a of awaiting) {
      const dedupe = `${a.userIdDigest}:${Buffer.from(a.signature).toString('hex')}`;
      if (!aside.has(dedupe)) {
        if (keyRoom <= 0 || totalRoom <= 0) {
          kept.full = keyRoom <= 0 ? 'key' : 'total';
          break;
        }
        aside.add(dedupe);
        keyRoom--;
        totalRoom--;
        tx.pending.push({ ...a, id: String(++tx.lastId), keyFingerprint: fingerprint, dedupe });
      }
      kept.kept++;
      waiting.push(a.issuerKeyId);
    }
    pending.kept.set(fingerprint, kept);
  }
  if (pending.deferAdmission) return 0;
  const rewritten = await admitInMemory(tx, new Set([...ownKeyIds, ...waiting]), () => true, pending.admit, rewrite);
  pending.admitted.push(...rewritten);
  return rewritten.length;
}

/**
 * The sweep after writes that deferred admission (KeyStore.admitAwaiting): every certification aside, on a
 * certified key of `part`, whose issuer is stored is admitted. The records rewritten.
 */
export function admitAsideInMemory(tx: MemoryState, part: SweepPart, admit: PendingAdmitter<KeyRecord>, rewrite: Rewrite): Promise<KeyRecord[]> {
  const inPart = (fingerprint: string) => partOf(fingerprint, part.of) === part.index;
  return admitInMemory(tx, new Set(tx.pending.map((p) => p.issuerKeyId)), inPart, admit, rewrite);
}

// Any split of the fingerprints into `of` parts will do: each key in exactly one.
function partOf(fingerprint: string, of: number): number {
  let h = 0;
  for (const c of fingerprint) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % of;
}

/** Admits the certifications aside (on keys `on` accepts) issued by one of these key IDs whose key is stored; the records rewritten. */
async function admitInMemory(
  tx: MemoryState,
  keyIds: Set<string>,
  on: (fingerprint: string) => boolean,
  admit: PendingAdmitter<KeyRecord>,
  rewrite: Rewrite,
): Promise<KeyRecord[]> {
  const issuersStored = new Set(primaryKeysIn(tx, [...keyIds]).map((k) => k.keyId));
  const byKey = new Map<string, MemoryPending[]>();
  for (const p of tx.pending) {
    if (issuersStored.has(p.issuerKeyId) && on(p.keyFingerprint)) byKey.set(p.keyFingerprint, [...(byKey.get(p.keyFingerprint) ?? []), p]);
  }
  const settled = new Set<string>();
  const rewritten: KeyRecord[] = [];
  const keys = [...byKey.keys()].map((f) => tx.keys.get(f)!).sort((a, b) => Number(a.row) - Number(b.row));
  for (const key of keys) {
    const list = byKey.get(key.record.fingerprint)!;
    const locked: LockedKey = { row: key.row, revision: key.revision, fingerprint: key.record.fingerprint, packets: key.packets };
    const issuers = primaryKeysIn(tx, [...new Set(list.map((p) => p.issuerKeyId))]).map((k) => k.packets);
    const decided = await admit(
      locked,
      list.map(({ dedupe: _, ...p }) => p),
      issuers,
    );
    const written = decided.write === null || rewrite(tx, locked, decided.write.record, decided.write.packets);
    // A key not rewritten keeps its certifications aside.
    if (written) for (const id of decided.settled) settled.add(id);
    if (decided.write !== null && written) rewritten.push(decided.write.record);
  }
  tx.pending = tx.pending.filter((p) => !settled.has(p.id));
  return rewritten;
}
