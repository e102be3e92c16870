// KeyService on the memory store (test/helpers/memoryStore.ts, held to the store's contracts beside PGlite and
// PostgreSQL): what becomes of each key of a submission, without HTTP and without a database.
import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/errors.js';
import { DEFAULT_LIMITS } from '../../src/openpgp/index.js';
import { KeyService, type SubmitContext } from '../../src/services/keyService.js';
import type { KeyChange, MergeStatus } from '../../src/vocabulary.js';
import { armorPackets, makeKey, userIdPackets, withUserIds } from '../helpers/keys.js';
import { MemoryKeyStore } from '../helpers/memoryStore.js';

const context: SubmitContext = { source: 'http', remoteAddress: '192.0.2.1' };

/** A KeyService writing to `store`, with what it tells of outcomes and writes. */
function serviceOn(store: MemoryKeyStore) {
  const outcomes: (MergeStatus | 'rejected')[] = [];
  const written: KeyChange[] = [];
  const keys = new KeyService(store, store, {
    limits: DEFAULT_LIMITS,
    onOutcome: (outcome) => outcomes.push(outcome),
    onWritten: (change) => written.push(change),
  });
  return { keys, outcomes, written };
}

async function auditOutcomes(store: MemoryKeyStore, fingerprint: string): Promise<string[]> {
  return (await store.list({ fingerprint })).map((r) => r.outcome);
}

async function userIdsOf(store: MemoryKeyStore, fingerprint: string): Promise<string[]> {
  const [row] = await store.index({ kind: 'fingerprint', fingerprint }, { offset: 0, limit: 1, versions: [4] });
  return row!.userIds.map((u) => u.text).sort();
}

/** Rejects with an AppError of this status and reason. */
async function expectAppError(promise: Promise<unknown>, status: number, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect(error).toMatchObject({ status, code });
}

/** A memory store whose next update lets another writer in first (between the merge's read and its write). */
class RacedStore extends MemoryKeyStore {
  race: (() => Promise<unknown>) | undefined;
  readonly updates: boolean[] = [];

  override async update(...args: Parameters<MemoryKeyStore['update']>): Promise<boolean> {
    const race = this.race;
    this.race = undefined;
    await race?.();
    const written = await super.update(...args);
    this.updates.push(written);
    return written;
  }
}

describe('KeyService on the memory store', () => {
  it('inserts a new key, updates it with a new user ID and finds a re-push unchanged, with an audit row each', async () => {
    const store = new MemoryKeyStore();
    const { keys, outcomes, written } = serviceOn(store);
    const key = await makeKey([{ name: 'Service', email: 'service@fake.example' }]);
    const more = await withUserIds(key, [{ name: 'Service', email: 'service@fake.example' }, { email: 'second@fake.example' }]);

    expect(await keys.submit(key.armored, context)).toEqual({ inserted: [key.fingerprint], updated: [], unchanged: [], rejected: [], dropped: [] });
    expect((await keys.submit(more.armored, context)).updated).toEqual([key.fingerprint]);
    expect((await keys.submit(more.armored, context)).unchanged).toEqual([key.fingerprint]);

    expect(outcomes).toEqual(['inserted', 'updated', 'unchanged']);
    expect(await auditOutcomes(store, key.fingerprint)).toEqual(['inserted', 'updated', 'unchanged']);
    // The unchanged push writes nothing, so tells of nothing.
    expect(written.map((c) => [...c.identities].sort())).toEqual([['service@fake.example'], ['second@fake.example', 'service@fake.example']]);
    expect(written[0]!.fingerprints[0]).toBe(key.fingerprint);
    expect(store.keys.get(key.fingerprint)!.revision).toBe(2);
    expect(await userIdsOf(store, key.fingerprint)).toEqual(['<second@fake.example>', 'Service <service@fake.example>']);
  });

  it('drops a user ID the key did not sign, refuses a key without one, and keeps the rest of the upload', async () => {
    const store = new MemoryKeyStore();
    const { keys, outcomes } = serviceOn(store);
    const [alice, mallory, bare] = await Promise.all([
      makeKey([{ name: 'Alice', email: 'alice@fake.example' }]),
      makeKey([{ name: 'Mallory', email: 'alice@fake.example' }]),
      makeKey([{ email: 'bare@fake.example' }]),
    ]);
    const forged = [...alice.packets, ...userIdPackets(mallory.packets, 'Mallory <alice@fake.example>')];
    // The primary key alone: no user ID, nothing to bind it to anyone.
    const result = await keys.submit(armorPackets([...forged, bare.packets[0]!]), context);

    expect(result.inserted).toEqual([alice.fingerprint]);
    expect(result.dropped).toEqual([expect.objectContaining({ fingerprint: alice.fingerprint, reason: expect.stringMatching(/self-signature/) })]);
    expect(result.rejected).toEqual([{ fingerprint: bare.fingerprint, reason: expect.any(String) }]);
    expect(outcomes).toEqual(['inserted', 'rejected']);
    expect(await userIdsOf(store, alice.fingerprint)).toEqual(['Alice <alice@fake.example>']);
    expect(store.keys.has(bare.fingerprint)).toBe(false);
    expect(await auditOutcomes(store, bare.fingerprint)).toEqual(['refused']);
  });

  it('answers 400 for data without a key and 422 when no key of it is usable, storing nothing', async () => {
    const store = new MemoryKeyStore();
    const { keys } = serviceOn(store);
    const bare = await makeKey([{ email: 'bare@fake.example' }]);
    await expectAppError(keys.submit('this is not a key', context), 400, 'no_key_data');
    await expectAppError(keys.submit(armorPackets([bare.packets[0]!]), context), 422, 'unusable_key');
    expect(store.keys.size).toBe(0);
  });

  it('merges again when another writer changed the key between its read and its write, keeping both changes', async () => {
    const store = new RacedStore();
    const { keys, written } = serviceOn(store);
    const other = new KeyService(store, store, { limits: DEFAULT_LIMITS });
    const first = { name: 'Raced', email: 'raced@fake.example' };
    const key = await makeKey([first]);
    const theirs = await withUserIds(key, [first, { email: 'theirs@fake.example' }]);
    const ours = await withUserIds(key, [first, { email: 'ours@fake.example' }]);
    await keys.submit(key.armored, context);

    store.race = () => other.submit(theirs.armored, context);
    expect((await keys.submit(ours.armored, context)).updated).toEqual([key.fingerprint]);

    // Theirs written, ours refused by the compare-and-swap, ours merged again over theirs and written.
    expect(store.updates).toEqual([true, false, true]);
    expect(await userIdsOf(store, key.fingerprint)).toEqual(['<ours@fake.example>', '<theirs@fake.example>', 'Raced <raced@fake.example>']);
    expect(await auditOutcomes(store, key.fingerprint)).toEqual(['inserted', 'updated', 'updated']);
    expect(written.at(-1)!.identities.sort()).toEqual(['ours@fake.example', 'raced@fake.example', 'theirs@fake.example']);
  });

  it("writes the new keys of a batch together (submitKeys), each key's outcome in its place", async () => {
    const store = new MemoryKeyStore();
    const { keys } = serviceOn(store);
    const [a, b, bare] = await Promise.all([makeKey([{ email: 'batch-a@fake.example' }]), makeKey([{ email: 'batch-b@fake.example' }]), makeKey()]);
    await keys.submit(a.armored, { source: 'import' });
    const aMore = await withUserIds(a, [{ email: 'batch-a@fake.example' }, { email: 'batch-a2@fake.example' }]);
    const insertMany = vi.spyOn(store, 'insertMany');

    const results = await keys.submitKeys([b.packets, aMore.packets, [bare.packets[0]!], b.packets], { source: 'import' });
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.status : 'rejected'))).toEqual(['inserted', 'updated', 'rejected', 'unchanged']);
    expect(insertMany).toHaveBeenCalledTimes(1);
    expect(insertMany.mock.calls[0]![0].map((item) => item.record.fingerprint)).toEqual([b.fingerprint]);
    expect(await store.count({ kind: 'identity', identity: 'batch-a2@fake.example' }, [4])).toBe(1);
  });

  it('keeps aside a certification by a key not stored, and admits it when its issuer is pushed', async () => {
    const store = new MemoryKeyStore();
    const { keys, written } = serviceOn(store);
    const [certified, issuer] = await Promise.all([
      makeKey([{ name: 'Certified', email: 'certified@fake.example' }]),
      makeKey([{ name: 'Issuer', email: 'issuer@fake.example' }]),
    ]);
    const signed = await certified.publicKey.signAllUsers([issuer.privateKey]);

    const pushed = await keys.submit(signed.armor(), context);
    expect(pushed.inserted).toEqual([certified.fingerprint]);
    expect(pushed.dropped).toEqual([expect.objectContaining({ reason: expect.stringMatching(/kept aside until its issuer is stored/) })]);
    expect(store.pending.map((p) => p.keyFingerprint)).toEqual([certified.fingerprint]);
    const issuerKeyId = issuer.fingerprint.slice(-16);
    const issuersOn = () => store.keys.get(certified.fingerprint)!.record.signatureFacts.userIds[0]!.map((s) => s.issuer);
    expect(issuersOn()).not.toContain(issuerKeyId);

    expect((await keys.submit(issuer.armored, context)).inserted).toEqual([issuer.fingerprint]);
    expect(store.pending).toEqual([]);
    expect(issuersOn()).toContain(issuerKeyId);
    // The certified key was rewritten too: told, so a cache drops its answers.
    expect(written.map((c) => c.fingerprints[0])).toEqual([certified.fingerprint, issuer.fingerprint, certified.fingerprint]);
  });
});
