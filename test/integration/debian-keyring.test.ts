// The whole debian-keyring package (1,178 real keys) pushed one by one and in batches, then fetched
// back by fingerprint, long and short key ID and every subkey ID with no packet lost.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf, readPackets, splitKeys, Tag, writePackets, type Packet } from '../../src/openpgp/packets.js';
import { armoredPackets, lookup, pushKeys } from '../helpers/hkp.js';
import { packetSet } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

const KEYRINGS = ['debian-keyring', 'debian-maintainers', 'debian-nonupload', 'debian-role-keys'].map((n) => `/usr/share/keyrings/${n}.gpg`);
const installed = KEYRINGS.every((f) => existsSync(f));

interface RingKey {
  fingerprint: string;
  packets: Packet[];
  subkeyFingerprints: string[];
}

function loadKeys(): RingKey[] {
  const keys: RingKey[] = [];
  for (const file of KEYRINGS) {
    for (const packets of splitKeys(readPackets(new Uint8Array(readFileSync(file)))).keys) {
      keys.push({
        fingerprint: fingerprintOf(packets[0]!.body),
        packets,
        subkeyFingerprints: packets.filter((p) => p.tag === Tag.publicSubkey).map((p) => fingerprintOf(p.body)),
      });
    }
  }
  return keys;
}

describe.skipIf(!installed).each(backends)('the Debian keyring on %s', (backend) => {
  let one: TestServer;
  let batched: TestServer;
  let keys: RingKey[];
  const dropped = new Map<string, number>();

  beforeAll(async () => {
    keys = loadKeys();
    [one, batched] = await Promise.all([startTestServer(backend), startTestServer(backend)]);
  });
  afterAll(async () => {
    await Promise.all([one?.close(), batched?.close()]);
  });

  it('has 1,178 keys', () => {
    expect(keys).toHaveLength(1178);
  });

  it('accepts every key pushed one by one', async () => {
    let inserted = 0;
    for (const key of keys) {
      const res = await pushKeys(one.url, writePackets(key.packets));
      expect(res.status, key.fingerprint).toBe(200);
      expect(res.json.rejected).toEqual([]);
      inserted += res.json.inserted.length;
      if (res.json.dropped.length > 0) dropped.set(key.fingerprint, res.json.dropped.length);
    }
    expect(inserted).toBe(1178);
  }, 300_000);

  it('accepts every key pushed 100 per request, with the same stored result', async () => {
    for (let i = 0; i < keys.length; i += 100) {
      const batch = keys.slice(i, i + 100);
      const res = await pushKeys(batched.url, writePackets(batch.flatMap((k) => k.packets)));
      expect(res.status).toBe(200);
      expect(res.json.inserted).toHaveLength(batch.length);
    }
    for (const key of keys.filter((_, i) => i % 20 === 0)) {
      const a = await lookup(one.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` });
      const b = await lookup(batched.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` });
      expect(b.text).toBe(a.text);
    }
  }, 300_000);

  it('serves each key by fingerprint, long and short key ID and each subkey ID, losing only reported packets', async () => {
    for (const key of keys) {
      const byFpr = await lookup(one.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` });
      expect(byFpr.status, key.fingerprint).toBe(200);
      const stored = new Set(packetSet(armoredPackets(byFpr.text)));
      const missing = packetSet(key.packets).filter((p) => !stored.has(p));
      // Only signatures reported as dropped (third-party signatures on the bare primary key) may be
      // missing; some of those are also present under a user ID, so fewer may be missing than reported.
      expect(missing.length, key.fingerprint).toBeLessThanOrEqual(dropped.get(key.fingerprint) ?? 0);
      for (const m of missing) expect(m.startsWith(`${Tag.signature}:`)).toBe(true);
      const ids = [key.fingerprint.slice(-16), key.fingerprint.slice(-8), ...key.subkeyFingerprints.map((f) => f.slice(-16))];
      for (const id of ids) {
        const res = await lookup(one.url, { op: 'get', options: 'mr', search: `0x${id}` });
        expect(res.status, id).toBe(200);
        const primaries = armoredPackets(res.text).filter((p) => p.tag === Tag.publicKey).map((p) => fingerprintOf(p.body));
        expect(primaries, id).toContain(key.fingerprint);
      }
    }
  }, 300_000);

  it('reports every key unchanged when the whole set is pushed again', async () => {
    let unchanged = 0;
    for (let i = 0; i < keys.length; i += 200) {
      const res = await pushKeys(one.url, writePackets(keys.slice(i, i + 200).flatMap((k) => k.packets)));
      expect(res.json.inserted).toEqual([]);
      expect(res.json.updated).toEqual([]);
      unchanged += res.json.unchanged.length;
    }
    expect(unchanged).toBe(1178);
  }, 300_000);
});
