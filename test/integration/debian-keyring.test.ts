// The whole debian-keyring package (1,178 real keys) pushed one by one and in batches, then fetched
// back by fingerprint, long and short key ID and every subkey ID with no packet lost.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf, readPackets, splitKeys, Tag, writePackets, type Packet } from '../../src/openpgp/packets.js';
import { scanSignature } from '../../src/openpgp/signatureScan.js';
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

interface GpgView {
  validity: string;
  algorithm: number;
  created: number;
  expires: number | null;
  userIds: string[];
}

/** What `gpg --show-keys --with-colons` says of each key: the reference for index output. */
function gpgShowKeys(): Map<string, GpgView> {
  const home = mkdtempSync(path.join(tmpdir(), 'keystore-gpg-'));
  const views = new Map<string, GpgView>();
  try {
    for (const file of KEYRINGS) {
      const out = execFileSync('gpg', ['--homedir', home, '--batch', '--with-colons', '--fixed-list-mode', '--show-keys', file], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let current: GpgView | null = null;
      let inPrimary = false;
      for (const line of out.split('\n')) {
        const f = line.split(':');
        if (f[0] === 'pub') {
          current = { validity: f[1]!, algorithm: Number(f[3]), created: Number(f[5]), expires: f[6] ? Number(f[6]) : null, userIds: [] };
          inPrimary = true;
        } else if (f[0] === 'fpr' && current && inPrimary) {
          views.set(f[9]!, current);
          inPrimary = false;
        } else if (f[0] === 'uid' && current) {
          current.userIds.push(f[9]!.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
        }
      }
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  return views;
}

/** SingularityCE's and OpenKeychain's strict reading of an mr index. */
function parseMr(text: string): { pub: string[][]; uid: string[][] } {
  const lines = text.trimEnd().split('\n');
  const info = /^info:1:(\d+)$/.exec(lines[0] ?? '');
  if (!info) throw new Error(`no info line: ${lines[0]}`);
  const pub = lines.filter((l) => l.startsWith('pub:'));
  if (pub.length !== Number(info[1])) throw new Error('info count differs from pub lines');
  for (const l of pub) if (!/^pub:([0-9a-fA-F]+):([0-9]+):([0-9]+):([0-9]+):([0-9]*):([rde]?)$/.test(l)) throw new Error(`bad pub line ${l}`);
  const uid = lines.filter((l) => l.startsWith('uid:'));
  for (const l of uid) if (!/^uid:([^:]*):([0-9]+):([0-9]*):([rde]*)$/.test(l)) throw new Error(`bad uid line ${l}`);
  return { pub: pub.map((l) => l.split(':')), uid: uid.map((l) => l.split(':')) };
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

// The whole set is slow on the embedded database (several minutes): it runs on PostgreSQL when the suite has
// one, and on PGlite only when it has not. The fixture tests cover the awkward keys on every backend.
const debianBackends = backends.includes('postgresql') ? (['postgresql'] as const) : backends;

describe.skipIf(!installed).each(debianBackends)('the Debian keyring on %s', (backend) => {
  let one: TestServer;
  let batched: TestServer;
  let keys: RingKey[];

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
    }
    expect(inserted).toBe(1178);
    // Longer than the other tests: a key certified by keys pushed after it is rewritten as each of them arrives
    // with its certification (docs/certifications.md).
  }, 600_000);

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
  }, 600_000);

  it('serves each key by fingerprint, long and short key ID and each subkey ID, losing only reported packets', async () => {
    for (const key of keys) {
      const byFpr = await lookup(one.url, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` });
      expect(byFpr.status, key.fingerprint).toBe(200);
      const stored = new Set(packetSet(armoredPackets(byFpr.text)));
      const missing = packetSet(key.packets).filter((p) => !stored.has(p));
      // Every user ID, photo ID, subkey and signature by the key itself is kept; only third-party
      // signatures may be missing (kept only when their issuer is stored, see the certification policy).
      for (const m of missing) {
        expect(m.startsWith(`${Tag.signature}:`), key.fingerprint).toBe(true);
        const facts = scanSignature(Buffer.from(m.slice(2), 'hex'));
        const issuer = facts.issuerFingerprint ?? facts.issuerKeyId ?? '';
        expect(issuer && key.fingerprint.endsWith(issuer), `${key.fingerprint} lost a self-signature`).toBe(false);
      }
      const ids = [key.fingerprint.slice(-16), key.fingerprint.slice(-8), ...key.subkeyFingerprints.map((f) => f.slice(-16))];
      for (const id of ids) {
        const res = await lookup(one.url, { op: 'get', options: 'mr', search: `0x${id}` });
        expect(res.status, id).toBe(200);
        const primaries = armoredPackets(res.text)
          .filter((p) => p.tag === Tag.publicKey)
          .map((p) => fingerprintOf(p.body));
        expect(primaries, id).toContain(key.fingerprint);
      }
    }
  }, 300_000);

  it('finds each key by fingerprint, e-mail and full name, listed with the dates and flags gpg shows', async () => {
    const gpg = gpgShowKeys();
    const now = Math.floor(Date.now() / 1000);
    const mismatches: string[] = [];
    for (const key of keys) {
      const view = gpg.get(key.fingerprint);
      expect(view, key.fingerprint).toBeDefined();
      const byFpr = await lookup(one.url, { op: 'index', options: 'mr', fingerprint: 'on', search: `0x${key.fingerprint}` });
      expect(byFpr.status).toBe(200);
      const { pub } = parseMr(byFpr.text);
      expect(pub).toHaveLength(1);
      const [, fpr, algo, , created, expires, flag] = pub[0]!;
      expect(fpr).toBe(key.fingerprint);
      expect(Number(algo)).toBe(view!.algorithm);
      expect(Number(created)).toBe(view!.created);
      const gpgFlag = view!.validity === 'r' ? 'r' : view!.expires !== null && view!.expires <= now ? 'e' : '';
      if (flag !== gpgFlag || (expires ? Number(expires) : null) !== view!.expires) {
        mismatches.push(`${key.fingerprint}: ours ${expires}/${flag}, gpg ${view!.expires}/${view!.validity}`);
      }
      const primaryUid = view!.userIds[0]!;
      const email = /<([^<>]+@[^<>]+)>/.exec(primaryUid)?.[1];
      const name = primaryUid.replace(/<[^<>]*>/, '').trim();
      for (const search of [email, name].filter((s): s is string => !!s && s.length > 0)) {
        const res = await lookup(one.url, { op: 'index', options: 'mr', search });
        expect(res.status, search).toBe(200);
        expect(
          parseMr(res.text).pub.map((p) => p[1]),
          search,
        ).toContain(key.fingerprint);
      }
    }
    expect(mismatches).toEqual([]);
  }, 300_000);

  it('has the certifications by keys pushed after each key already: the set pushed again adds none', async () => {
    let updated = 0;
    for (let i = 0; i < keys.length; i += 200) {
      const res = await pushKeys(one.url, writePackets(keys.slice(i, i + 200).flatMap((k) => k.packets)));
      expect(res.status).toBe(200);
      expect(res.json.inserted).toEqual([]);
      updated += res.json.updated.length;
    }
    // Debian developers certify each other: most keys are certified by keys pushed after them, and gained those
    // certifications, kept aside, when their issuers were pushed (docs/certifications.md).
    expect(updated).toBe(0);
  }, 300_000);

  it('reports every key unchanged when the whole set is pushed yet again', async () => {
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
