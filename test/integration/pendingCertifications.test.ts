// Certifications whose issuer is not stored yet are kept aside and admitted when it arrives: keys certifying
// each other end with every certification whatever the order they are pushed (or imported) in; the bounds
// hold; a forged certification aside is never admitted; what waits aside is never served.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importKeyService } from '../../src/cli/import.js';
import { loadConfig } from '../../src/config.js';
import { Tag, fingerprintOf, writePackets, type Packet } from '../../src/openpgp/packets.js';
import { inProcessSubmitter, runImport } from '../../src/services/importService.js';
import { armoredPackets, lookup, pushKeys } from '../helpers/hkp.js';
import { makeKey, packetSet, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

const KEYS = 6;

/** Each key with certifications on its user ID by every other key of the set (as each certifier would upload it). */
async function certifyingSet(keys: TestKey[]): Promise<Packet[][]> {
  const out: Packet[][] = [];
  for (const key of keys) {
    let signed = key.publicKey;
    for (const other of keys) if (other !== key) signed = await signed.signAllUsers([other.privateKey]);
    out.push(armoredPackets(signed.armor()));
  }
  return out;
}

/** The issuers among `issuers` of signatures on a key's packets (but the key's own), by fingerprint. */
function certifiers(packets: Packet[], issuers: TestKey[]): string[] {
  const own = packets[0] ? fingerprintOf(packets[0].body) : '';
  return issuers
    .filter(
      (i) => i.fingerprint !== own && packets.some((p) => p.tag === Tag.signature && Buffer.from(p.body).includes(Buffer.from(i.fingerprint, 'hex'))),
    )
    .map((i) => i.fingerprint)
    .sort();
}

async function storedPackets(server: TestServer, fingerprint: string): Promise<Packet[]> {
  const res = await lookup(server.url, { op: 'get', search: `0x${fingerprint}` });
  expect(res.status).toBe(200);
  return armoredPackets(res.text);
}

async function pendingRows(server: TestServer): Promise<{ rows: number; counted: number }> {
  const db = server.database.db;
  const {
    rows: [n],
  } = await sql<{ n: string }>`select count(*) as n from pending_certifications`.execute(db);
  const {
    rows: [c],
  } = await sql<{ count: string }>`select count from pending_certification_count`.execute(db);
  return { rows: Number(n!.n), counted: Number(c!.count) };
}

async function revision(server: TestServer, fingerprint: string): Promise<number> {
  const {
    rows: [r],
  } = await sql<{ revision: number }>`select revision from keys where fingerprint = ${fingerprint}`.execute(server.database.db);
  return r!.revision;
}

// Generous timeouts: a few seconds each on an idle machine, far more on a loaded one.
describe.each(backends)('certifications awaiting their issuer on %s', (backend) => {
  let keys: TestKey[];
  let certified: Packet[][];
  const servers: TestServer[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const server = await startTestServer(backend, env);
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    keys = await Promise.all(Array.from({ length: KEYS }, (_, i) => makeKey([{ name: `Member ${i}`, email: `member${i}@example.org` }])));
    certified = await certifyingSet(keys);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('pushed in reverse order, one by one, every key ends with every certification', async () => {
    const server = await start();
    const revisions: number[] = [];
    for (let i = KEYS - 1; i >= 0; i--) {
      const res = await pushKeys(server.url, writePackets(certified[i]!));
      expect(res.status).toBe(200);
      // Its certifications by keys not pushed yet wait aside, reported; none is served yet.
      const waiting = i;
      if (waiting > 0) {
        expect(res.json.dropped).toEqual([
          expect.objectContaining({
            reason: expect.stringMatching(new RegExp(`kept aside until its issuer is stored${waiting > 1 ? ` \\(${waiting} signatures\\)` : '$'}`)),
          }),
        ]);
      }
      expect(certifiers(await storedPackets(server, keys[i]!.fingerprint), keys)).toEqual(
        keys
          .slice(i + 1)
          .map((k) => k.fingerprint)
          .sort(),
      );
      revisions[i] = await revision(server, keys[i]!.fingerprint);
    }
    // Each key was fetched (and cached) before its certifiers arrived: what lookups answer now is the whole set.
    for (const [i, key] of keys.entries()) {
      const stored = await storedPackets(server, key.fingerprint);
      expect(packetSet(stored), `key ${i}`).toEqual(packetSet(certified[i]!));
      // One new revision per key that certified it after it was stored.
      expect(await revision(server, key.fingerprint)).toBe(revisions[i]! + i);
    }
    // The indexed facts were derived anew: the signatures page lists every certifier.
    const vindex = await lookup(server.url, { op: 'vindex', search: `0x${keys[KEYS - 1]!.fingerprint}` }, { accept: 'text/html' });
    for (const k of keys.slice(0, -1)) expect(vindex.text).toContain(k.fingerprint.slice(-16));
    expect(await pendingRows(server)).toEqual({ rows: 0, counted: 0 });
  }, 180_000);

  it('pushed all at once, in random order, and imported in reverse order as batches: the same certifications', async () => {
    const server = await start();
    const order = keys.map((_, i) => i).sort(() => Math.random() - 0.5);
    const results = await Promise.all(order.map((i) => pushKeys(server.url, writePackets(certified[i]!))));
    expect(results.map((r) => r.status)).toEqual(order.map(() => 200));
    for (const [i, key] of keys.entries())
      expect(packetSet(await storedPackets(server, key.fingerprint)), `key ${i}`).toEqual(packetSet(certified[i]!));
    expect(await pendingRows(server)).toEqual({ rows: 0, counted: 0 });

    // The batch path (keystore import): one batch, each key certified by keys after it in the input.
    const imported = await start();
    const dir = mkdtempSync(path.join(tmpdir(), 'keystore-pending-'));
    try {
      const file = path.join(dir, 'set.gpg');
      writeFileSync(file, writePackets([...certified].reverse().flat()));
      const config = loadConfig({ DATA_DIR: 'memory://' });
      const submitter = inProcessSubmitter(importKeyService(imported.database.db, config), 16);
      const summary = await runImport([file], { submitter });
      expect(summary).toMatchObject({ keys: KEYS, inserted: KEYS, rejected: 0, failed: 0 });
      // Nothing was left for the certification pass: the batch admitted them itself.
      expect(summary.certificationPass).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    for (const [i, key] of keys.entries())
      expect(packetSet(await storedPackets(imported, key.fingerprint)), `key ${i}`).toEqual(packetSet(certified[i]!));
    expect(await pendingRows(imported)).toEqual({ rows: 0, counted: 0 });
  }, 180_000);

  it('keeps aside within the bounds per key and in total, and reports the rest dropped', async () => {
    const server = await start({ MAX_PENDING_CERTIFICATIONS_PER_KEY: '2', MAX_PENDING_CERTIFICATIONS: '3' });
    // Made in the past, so that certifications can carry the dates given here.
    const past = new Date(Date.UTC(2020, 0, 1));
    const issuers = await Promise.all(['A', 'B', 'C'].map((name) => makeKey([{ name, email: `${name}@example.org` }], past)));
    const [a, b, c] = issuers;
    const target = await makeKey([{ name: 'Target', email: 'target@example.org' }], past);
    const second = await makeKey([{ name: 'Second', email: 'second@example.org' }], past);
    // Oldest first: a's and b's certifications are kept aside, c's is over the key's bound.
    const certify = async (key: TestKey, by: TestKey[]) => {
      let signed = key.publicKey;
      for (const [n, issuer] of by.entries()) signed = await signed.signAllUsers([issuer!.privateKey], new Date(Date.UTC(2021, 0, 1 + n)));
      return writePackets(armoredPackets(signed.armor()));
    };
    const first = await pushKeys(server.url, await certify(target, [a!, b!, c!]));
    expect(first.status).toBe(200);
    expect(first.json.dropped.map((d: { reason: string }) => d.reason)).toEqual([
      expect.stringMatching(/kept aside until its issuer is stored \(2 signatures\)$/),
      expect.stringMatching(/not kept aside, this key has the maximum of 2 certifications awaiting their issuer$/),
    ]);
    const next = await pushKeys(server.url, await certify(second, [a!, b!]));
    expect(next.json.dropped.map((d: { reason: string }) => d.reason)).toEqual([
      expect.stringMatching(/kept aside until its issuer is stored$/),
      expect.stringMatching(/not kept aside, this server holds the maximum of 3 certifications awaiting their issuer$/),
    ]);
    expect(await pendingRows(server)).toEqual({ rows: 3, counted: 3 });
    for (const issuer of [a!, b!, c!]) expect((await pushKeys(server.url, issuer.armored)).status).toBe(200);
    expect(certifiers(await storedPackets(server, target.fingerprint), issuers)).toEqual([a!.fingerprint, b!.fingerprint].sort());
    expect(certifiers(await storedPackets(server, second.fingerprint), issuers)).toEqual([a!.fingerprint]);
    expect(await pendingRows(server)).toEqual({ rows: 0, counted: 0 });
  }, 180_000);

  it('never admits a forged certification aside, and serves none of them meanwhile', async () => {
    const server = await start();
    const [issuer] = keys;
    const victim = await makeKey([
      { name: 'Victim', email: 'victim@example.org' },
      { name: 'Other', email: 'other@example.org' },
    ]);
    // A genuine certification by `issuer`, moved onto the victim's other user ID (it does not verify there),
    // and one with its signature value altered.
    const signed = armoredPackets((await victim.publicKey.signAllUsers([issuer!.privateKey])).armor());
    const byIssuer = (p: Packet) => p.tag === Tag.signature && Buffer.from(p.body).includes(Buffer.from(issuer!.fingerprint, 'hex'));
    const genuine = signed.filter(byIssuer);
    expect(genuine).toHaveLength(2);
    const altered = { tag: Tag.signature, body: Uint8Array.from(genuine[1]!.body) };
    altered.body[altered.body.length - 3]! ^= 0xff;
    const own = victim.packets;
    const uids = own.flatMap((p, n) => (p.tag === Tag.userId ? [n] : []));
    const forged = [...own.slice(0, uids[1]! + 2), genuine[0]!, altered, ...own.slice(uids[1]! + 2)];
    const res = await pushKeys(server.url, writePackets(forged));
    expect(res.status).toBe(200);
    expect(await pendingRows(server)).toEqual({ rows: 2, counted: 2 });
    const beforeIssuer = await storedPackets(server, victim.fingerprint);
    expect(certifiers(beforeIssuer, keys)).toEqual([]);
    const vindex = await lookup(server.url, { op: 'vindex', search: `0x${victim.fingerprint}` }, { accept: 'text/html' });
    expect(vindex.status).toBe(200);
    expect(vindex.text).toContain(victim.fingerprint.slice(-16));
    expect(vindex.text).not.toContain(issuer!.fingerprint.slice(-16));

    const before = await revision(server, victim.fingerprint);
    expect((await pushKeys(server.url, issuer!.armored)).status).toBe(200);
    // Both were checked against the issuer now stored, refused, and are gone; the victim is untouched.
    expect(packetSet(await storedPackets(server, victim.fingerprint))).toEqual(packetSet(beforeIssuer));
    expect(await revision(server, victim.fingerprint)).toBe(before);
    expect(await pendingRows(server)).toEqual({ rows: 0, counted: 0 });
    // The genuine ones, pushed now that their issuer is stored, are kept.
    expect((await pushKeys(server.url, writePackets(signed))).json.updated).toEqual([victim.fingerprint]);
    expect(certifiers(await storedPackets(server, victim.fingerprint), keys)).toEqual([issuer!.fingerprint]);
  }, 180_000);
});
