// GET /pks/lookup op=index, op=vindex and op=stats against the real app on every store: the machine-readable
// index as strict clients parse it (SingularityCE, OpenKeychain, GPGME), searches, flags, Sylabs pagination,
// HTML pages for browsers, and the statistics document. Contract: docs/hkp-clients.md.
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchText, pushKeys, type TextResponse } from '../helpers/hkp.js';
import { debianFixtures, fixtureBytes, fromPrivate, makeKey, type DebianFixture, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

// ---------------------------------------------------------------------------------------------------------
// Helpers (local to this file)

interface FixtureFacts extends DebianFixture {
  algorithm: number;
  bits: number;
  curve: string | null;
  created: number;
  expires: number | null;
  keyId: string;
}

const fixtures = debianFixtures() as FixtureFacts[];

function fixture(file: string): FixtureFacts {
  const f = fixtures.find((x) => x.file === file);
  if (!f) throw new Error(`no fixture ${file}`);
  return f;
}

/** ECC keys have no bit count in the packet: the index uses the curve's size. */
const CURVE_BITS: Record<string, number> = {
  ed25519: 255,
  cv25519: 255,
  nistp256: 256,
  nistp384: 384,
  nistp521: 521,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
};

function expectedBits(f: FixtureFacts): number {
  if (f.curve === null) return f.bits;
  const bits = CURVE_BITS[f.curve];
  if (bits === undefined) throw new Error(`unknown curve ${f.curve}`);
  return bits;
}

async function request(
  server: TestServer,
  path: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<TextResponse> {
  const query = Object.keys(params).length > 0 ? `?${new URLSearchParams(params)}` : '';
  return fetchText(`${server.url}${path}${query}`, { headers });
}

const lookup = (server: TestServer, params: Record<string, string>, headers: Record<string, string> = {}) =>
  request(server, '/pks/lookup', params, headers);

const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

const PUB = /^pub:([0-9A-F]{40}):([0-9]+):([0-9]+):([0-9]+):([0-9]*):([rde]?)$/;
const UID = /^uid:([^:]*):([0-9]+):([0-9]*):([rde]?)$/;

interface MrUid {
  raw: string;
  text: string;
  created: number;
  expires: number | null;
  flag: string;
}

interface MrKey {
  fingerprint: string;
  algorithm: number;
  bits: number;
  created: number;
  expires: number | null;
  flag: string;
  uids: MrUid[];
}

/**
 * Parses a machine-readable index as SingularityCE does, checking the grammar on the way: `info:1:N` first with N
 * equal to the number of pub lines, pub lines of exactly 7 fields, uid lines of 5, nothing else.
 */
function parseMr(text: string): MrKey[] {
  expect(text.endsWith('\n'), 'mr output ends with a newline').toBe(true);
  const lines = text.slice(0, -1).split('\n');
  const info = /^info:1:(\d+)$/.exec(lines[0] ?? '');
  expect(info, `first line is info:1:N, got ${JSON.stringify(lines[0])}`).not.toBeNull();
  const keys: MrKey[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith('pub:')) {
      expect(line.split(':'), `pub line has 7 fields: ${line}`).toHaveLength(7);
      const m = PUB.exec(line);
      expect(m, `pub line matches the strict grammar: ${line}`).not.toBeNull();
      keys.push({
        fingerprint: m![1]!,
        algorithm: Number(m![2]),
        bits: Number(m![3]),
        created: Number(m![4]),
        expires: m![5] === '' ? null : Number(m![5]),
        flag: m![6]!,
        uids: [],
      });
    } else if (line.startsWith('uid:')) {
      const m = UID.exec(line);
      expect(m, `uid line matches the strict grammar: ${line}`).not.toBeNull();
      expect(keys.length, 'a uid line follows a pub line').toBeGreaterThan(0);
      const raw = m![1]!;
      // Every byte outside printable ASCII is percent-encoded.
      expect(raw, `uid field is printable ASCII: ${raw}`).toMatch(/^[\x20-\x7e]*$/);
      keys[keys.length - 1]!.uids.push({
        raw,
        text: decodeURIComponent(raw),
        created: Number(m![2]),
        expires: m![3] === '' ? null : Number(m![3]),
        flag: m![4]!,
      });
    } else {
      throw new Error(`unexpected line in mr index: ${JSON.stringify(line)}`);
    }
  }
  expect(Number(info![1]), 'info:1:N counts the pub lines').toBe(keys.length);
  return keys;
}

/** op=index&options=mr, expecting 200 text/plain; returns the parsed keys. */
async function mrIndex(server: TestServer, search: string, extra: Record<string, string> = {}): Promise<MrKey[]> {
  const res = await lookup(server, { op: 'index', options: 'mr', fingerprint: 'on', search, ...extra });
  expect(res.status, `op=index search=${search}: ${res.text}`).toBe(200);
  expect(res.type).toMatch(/^text\/plain/);
  return parseMr(res.text);
}

const fingerprints = (keys: MrKey[]) => keys.map((k) => k.fingerprint);

function grouped(fpr: string): string {
  return fpr.match(/.{4}/g)!.join(' ');
}

function unescapeHtml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Every link on a page that points to /pks/lookup, as parsed query parameters. */
function lookupLinks(html: string): URLSearchParams[] {
  const out: URLSearchParams[] = [];
  for (const m of html.matchAll(/href="([^"]*)"/g)) {
    const url = new URL(unescapeHtml(m[1]!), 'http://host.invalid');
    if (url.pathname === '/pks/lookup') out.push(url.searchParams);
  }
  return out;
}

async function push(server: TestServer, ...keys: (TestKey | string | Uint8Array)[]): Promise<void> {
  for (const key of keys) {
    const body = typeof key === 'string' || key instanceof Uint8Array ? key : key.armored;
    const res = await pushKeys(server.url, body);
    expect(res.status, res.text).toBe(200);
  }
}

const unixSeconds = (d: Date) => Math.floor(d.getTime() / 1000);

// ---------------------------------------------------------------------------------------------------------

describe.each(backends)('op=index and op=vindex on %s', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(backend);
    for (const f of fixtures) await push(server, fixtureBytes(f.file));
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('machine-readable output', () => {
    it('lists each Debian fixture with its fingerprint, algorithm, bits, dates, flag and user IDs', async () => {
      const now = Math.floor(Date.now() / 1000);
      for (const f of fixtures) {
        const res = await lookup(server, { op: 'index', options: 'mr', fingerprint: 'on', search: `0x${f.fingerprint}` });
        expect(res.status, f.file).toBe(200);
        expect(res.type, f.file).toMatch(/^text\/plain/);
        expect(res.text.startsWith('info:1:1\n'), f.file).toBe(true);
        const keys = parseMr(res.text);
        expect(keys, f.file).toHaveLength(1);
        const key = keys[0]!;
        expect(key.fingerprint, f.file).toBe(f.fingerprint);
        expect(key.algorithm, f.file).toBe(f.algorithm);
        expect(key.bits, f.file).toBe(expectedBits(f));
        expect(key.created, f.file).toBe(f.created);
        expect(key.expires, f.file).toBe(f.expires);
        expect(key.flag, f.file).toBe(f.expires !== null && f.expires <= now ? 'e' : '');
        expect(key.uids.map((u) => u.text).sort(), f.file).toEqual([...f.userIdStrings].sort());
      }
    });

    it('uses the curve size as bits for ECC keys (ed25519 → 255, P-384 → 384) and the right algorithm ids', async () => {
      const [ed] = await mrIndex(server, `0x${fixture('ed25519.gpg').fingerprint}`);
      expect(ed).toMatchObject({ algorithm: 22, bits: 255 });
      const [p384] = await mrIndex(server, `0x${fixture('nist-or-brainpool.gpg').fingerprint}`);
      expect(p384).toMatchObject({ algorithm: 19, bits: 384 });
      const [dsa] = await mrIndex(server, `0x${fixture('dsa-elgamal.gpg').fingerprint}`);
      expect(dsa).toMatchObject({ algorithm: 17, bits: 3072 });
    });

    it('describes a generated key exactly (algorithm, bits, creation, no expiry, uid creation date)', async () => {
      const created = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
      const key = await makeKey([{ name: 'Generated Facts', email: 'facts@gen.example' }], created);
      await push(server, key);
      const [k] = await mrIndex(server, 'facts@gen.example');
      expect(k).toMatchObject({
        fingerprint: key.fingerprint,
        algorithm: key.publicKey.keyPacket.algorithm,
        bits: 255,
        created: unixSeconds(created),
        expires: null,
        flag: '',
      });
      expect(k!.uids).toEqual([
        {
          raw: 'Generated Facts <facts@gen.example>',
          text: 'Generated Facts <facts@gen.example>',
          created: unixSeconds(created),
          expires: null,
          flag: '',
        },
      ]);
    });

    it("percent-encodes '+', ':' and '%' in a user ID, and decodes back to the user ID", async () => {
      const key = await makeKey([{ name: 'a+b:c%d', email: 'plus@escape.example' }]);
      await push(server, key);
      const [k] = await mrIndex(server, 'plus@escape.example');
      expect(k!.uids).toHaveLength(1);
      const uid = k!.uids[0]!;
      expect(uid.raw).toBe('a%2Bb%3Ac%25d <plus@escape.example>');
      expect(uid.text).toBe('a+b:c%d <plus@escape.example>');
    });

    it('percent-encodes non-ASCII user IDs as UTF-8 (Arabic, Czech)', async () => {
      const [arabic] = await mrIndex(server, `0x${fixture('dsa-elgamal.gpg').fingerprint}`);
      const raw = arabic!.uids.find((u) => u.text === 'أبو المنتصر لدين اللّه <abou.almontacir@gmail.com>');
      expect(raw, 'the Arabic user ID is listed').toBeDefined();
      expect(raw!.raw).toBe(
        [...new TextEncoder().encode('أبو المنتصر لدين اللّه')]
          .map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0'))
          .join('')
          .replace(/%20/g, ' ') + ' <abou.almontacir@gmail.com>',
      );
      const [czech] = await mrIndex(server, `0x${fixture('non-ascii-uid.gpg').fingerprint}`);
      expect(czech!.uids.map((u) => u.raw)).toEqual(['Jakub Ru%C5%BEi%C4%8Dka (packaging) <jakub.ruzicka@nic.cz>']);
    });

    it('answers text/plain mr to a client that does not ask for HTML, even without options=mr (curl)', async () => {
      const f = fixture('ed25519.gpg');
      const res = await lookup(server, { op: 'index', search: `0x${f.fingerprint}` });
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/plain/);
      expect(fingerprints(parseMr(res.text))).toEqual([f.fingerprint]);
    });
  });

  describe('searches', () => {
    let mail: TestKey;
    let mailLookalike: TestKey;
    let zeb: TestKey;
    let quincyAlpha: TestKey;
    let quincyBeta: TestKey;
    let sean: TestKey;

    beforeAll(async () => {
      mail = await makeKey([{ name: 'Mail Person', email: 'Mail.Test@Example.org' }]);
      // Contains the address above as a substring: an e-mail search must not match it.
      mailLookalike = await makeKey([{ name: 'Other Person', email: 'other.mail.test@example.org' }]);
      zeb = await makeKey([{ name: 'Zebulon Wordsearch', email: 'zeb@words.example' }]);
      quincyAlpha = await makeKey([{ name: 'Quincy Alpha', email: 'qa@words.example' }]);
      quincyBeta = await makeKey([{ name: 'Quincy Beta', email: 'qb@words.example' }]);
      sean = await makeKey([{ name: "Seán O'Brien-Smith", email: 'sean@x.example' }]);
      await push(server, mail, mailLookalike, zeb, quincyAlpha, quincyBeta, sean);
    });

    it('finds exactly the key with an e-mail address, as a@b or <a@b>, in any case', async () => {
      for (const search of ['mail.test@example.org', 'MAIL.Test@example.ORG', '<mail.test@EXAMPLE.org>', '<Mail.Test@Example.org>']) {
        expect(fingerprints(await mrIndex(server, search)), search).toEqual([mail.fingerprint]);
      }
      expect(fingerprints(await mrIndex(server, 'other.mail.test@example.org'))).toEqual([mailLookalike.fingerprint]);
    });

    it('finds keys by one word of a name, any case', async () => {
      expect(fingerprints(await mrIndex(server, 'Zebulon'))).toEqual([zeb.fingerprint]);
      expect(fingerprints(await mrIndex(server, 'zebULON'))).toEqual([zeb.fingerprint]);
      expect(fingerprints(await mrIndex(server, 'quincy')).sort()).toEqual([quincyAlpha.fingerprint, quincyBeta.fingerprint].sort());
    });

    it('requires every word to match', async () => {
      expect(fingerprints(await mrIndex(server, 'quincy beta'))).toEqual([quincyBeta.fingerprint]);
      expect(fingerprints(await mrIndex(server, 'Beta Quincy'))).toEqual([quincyBeta.fingerprint]);
      const none = await lookup(server, { op: 'index', options: 'mr', search: 'quincy zebulon' });
      expect(none.status).toBe(404);
    });

    it('matches whole words only: a part of a word does not match', async () => {
      for (const search of ['Zebu', 'zebulo', 'ebulon', 'Wordsearc', 'quin', 'words exampl', 'word']) {
        const res = await lookup(server, { op: 'index', options: 'mr', search });
        expect(res.status, search).toBe(404);
      }
      const get = await lookup(server, { op: 'get', options: 'mr', search: 'Zebu' });
      expect(get.status).toBe(404);
    });

    it('treats punctuation as a separator between words', async () => {
      for (const search of ['o brien', 'brien smith', 'seán', 'SEÁN', "O'Brien-Smith", 'smith o brien', 'sean x example']) {
        expect(fingerprints(await mrIndex(server, search)), search).toEqual([sean.fingerprint]);
      }
      const notTogether = await lookup(server, { op: 'index', options: 'mr', search: 'obrien' });
      expect(notTogether.status).toBe(404);
    });

    it('finds keys by the parts of an e-mail address, each a word', async () => {
      const words = [zeb.fingerprint, quincyAlpha.fingerprint, quincyBeta.fingerprint].sort();
      expect(fingerprints(await mrIndex(server, 'words example')).sort()).toEqual(words);
      expect(fingerprints(await mrIndex(server, 'words.example')).sort()).toEqual(words);
      expect(fingerprints(await mrIndex(server, 'qa words'))).toEqual([quincyAlpha.fingerprint]);
    });

    it('answers 400 to a word search without letters or digits', async () => {
      for (const search of ['!!!', '--', '<>']) {
        const res = await lookup(server, { op: 'index', options: 'mr', search });
        expect(res.status, search).toBe(400);
        expect(res.json, search).toEqual({ error: { code: 400, reason: 'invalid_search', message: 'search has no letters or digits to match' } });
      }
    });

    it('finds keys by a non-ASCII word (Ružička, المنتصر)', async () => {
      expect(fingerprints(await mrIndex(server, 'Ružička'))).toEqual([fixture('non-ascii-uid.gpg').fingerprint]);
      expect(fingerprints(await mrIndex(server, 'ružička'))).toEqual([fixture('non-ascii-uid.gpg').fingerprint]);
      expect(fingerprints(await mrIndex(server, 'المنتصر'))).toEqual([fixture('dsa-elgamal.gpg').fingerprint]);
    });

    it('finds a key by fingerprint, long and short key ID, and subkey ID', async () => {
      const sub = zeb.publicKey.getSubkeys()[0]!.getFingerprint().toUpperCase();
      const searches = [
        `0x${zeb.fingerprint}`,
        `0x${zeb.fingerprint.toLowerCase()}`,
        zeb.fingerprint,
        `0x${zeb.fingerprint.slice(-16)}`,
        `0x${zeb.fingerprint.slice(-8)}`,
        `0x${sub}`,
        `0x${sub.slice(-16)}`,
        `0x${sub.slice(-8)}`,
      ];
      for (const search of searches) {
        expect(fingerprints(await mrIndex(server, search)), search).toEqual([zeb.fingerprint]);
      }
      const f = fixture('revoked-subkey.gpg');
      for (const subFpr of f.subkeyFingerprints) {
        expect(fingerprints(await mrIndex(server, `0x${subFpr.slice(-16)}`)), subFpr).toEqual([f.fingerprint]);
      }
    });

    it('with exact=on matches a whole user ID (any case) and not a part of one', async () => {
      const whole = await mrIndex(server, 'Zebulon Wordsearch <zeb@words.example>', { exact: 'on' });
      expect(fingerprints(whole)).toEqual([zeb.fingerprint]);
      const anyCase = await mrIndex(server, 'zebulon wordsearch <ZEB@words.example>', { exact: 'on' });
      expect(fingerprints(anyCase)).toEqual([zeb.fingerprint]);
      const withoutEmail = await mrIndex(server, 'Giovanni Mascellani', { exact: 'on' });
      expect(fingerprints(withoutEmail)).toEqual([fixture('designated-revoker.gpg').fingerprint]);
      const part = await lookup(server, { op: 'index', options: 'mr', search: 'Zebulon Wordsearch', exact: 'on' });
      expect(part.status).toBe(404);
      const word = await lookup(server, { op: 'index', options: 'mr', search: 'Zebulon', exact: 'on' });
      expect(word.status).toBe(404);
    });

    it('answers 404 with a JSON error when nothing matches', async () => {
      for (const [op, search] of [
        ['index', 'nothing-matches-this-word'],
        ['vindex', 'nothing-matches-this-word'],
        ['index', 'nobody@nowhere.example'],
        ['index', '0x' + 'AB'.repeat(20)],
      ] as const) {
        const res = await lookup(server, { op, options: 'mr', search });
        expect(res.status, `${op} ${search}`).toBe(404);
        expect(res.json, `${op} ${search}`).toEqual({ error: { code: 404, reason: 'not_found', message: expect.any(String) } });
      }
    });

    it('answers 400 for a malformed key ID search', async () => {
      const res = await lookup(server, { op: 'index', options: 'mr', search: '0x12345' });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe(400);
    });

    it('ranks a key with a user ID equal to the whole search text before newer keys', async () => {
      // The exact key is the oldest: ordering by creation date alone would put it last.
      const exact = await makeKey([{ name: 'Rank Tester' }], new Date(Date.now() - 30 * 86400_000));
      const newer = await makeKey([{ name: 'Rank Tester Junior', email: 'junior@rank.example' }], new Date(Date.now() - 86400_000));
      const newest = await makeKey([{ name: 'Tester Rank', email: 'reversed@rank.example' }]);
      await push(server, exact, newer, newest);
      const keys = await mrIndex(server, 'rank tester');
      expect(fingerprints(keys).sort()).toEqual([exact.fingerprint, newer.fingerprint, newest.fingerprint].sort());
      expect(keys[0]!.fingerprint).toBe(exact.fingerprint);
      const upper = await mrIndex(server, 'RANK Tester');
      expect(upper[0]!.fingerprint).toBe(exact.fingerprint);
    });
  });

  describe('flags', () => {
    it("shows 'r' on the pub line of a revoked key", async () => {
      const key = await makeKey([{ name: 'Revoked Key', email: 'revoked@flags.example' }]);
      const { publicKey } = await openpgp.revokeKey({ key: key.privateKey, format: 'object' });
      await push(server, publicKey.armor());
      const [k] = await mrIndex(server, 'revoked@flags.example');
      expect(k!.fingerprint).toBe(key.fingerprint);
      expect(k!.flag).toBe('r');
    });

    it("shows 'r' on a key revoked after it was first pushed unrevoked", async () => {
      const key = await makeKey([{ name: 'Later Revoked', email: 'later@flags.example' }]);
      await push(server, key);
      expect((await mrIndex(server, 'later@flags.example'))[0]!.flag).toBe('');
      const { publicKey } = await openpgp.revokeKey({ key: key.privateKey, format: 'object' });
      await push(server, publicKey.armor());
      expect((await mrIndex(server, 'later@flags.example'))[0]!.flag).toBe('r');
    });

    it("shows 'e' on the pub line of an expired key (expired.gpg)", async () => {
      const f = fixture('expired.gpg');
      const [k] = await mrIndex(server, 'jaybonci@debian.org');
      expect(k!.fingerprint).toBe(f.fingerprint);
      expect(k!.expires).toBe(1485142689);
      expect(k!.flag).toBe('e');
    });

    it("shows 'e' on a generated key that has expired", async () => {
      const { privateKey } = await openpgp.generateKey({
        type: 'curve25519',
        userIDs: [{ name: 'Short Lived', email: 'short@flags.example' }],
        format: 'object',
        date: new Date(Date.now() - 10 * 86400_000),
        keyExpirationTime: 86400,
      });
      const key = fromPrivate(privateKey);
      await push(server, key);
      const [k] = await mrIndex(server, 'short@flags.example');
      expect(k!.expires).toBe(k!.created + 86400);
      expect(k!.flag).toBe('e');
    });

    it("shows 'r' on revoked user ID lines and not on the others (designated-revoker.gpg)", async () => {
      // gpg --show-keys lists two revoked user IDs on this key.
      const f = fixture('designated-revoker.gpg');
      const [k] = await mrIndex(server, `0x${f.fingerprint}`);
      const revoked = k!.uids
        .filter((u) => u.flag === 'r')
        .map((u) => u.text)
        .sort();
      expect(revoked).toEqual(['Giovanni Mascellani <giovanni.mascellani@ulb.ac.be>', 'Giovanni Mascellani <mascellani@poisson.phc.unipi.it>']);
      expect(k!.uids.find((u) => u.text === 'Giovanni Mascellani <gio@debian.org>')!.flag).not.toBe('r');
    });
  });

  describe('pagination', () => {
    const names = ['One', 'Two', 'Three', 'Four', 'Five'];
    let pagers: TestKey[];

    beforeAll(async () => {
      pagers = [];
      for (const [i, n] of names.entries()) pagers.push(await makeKey([{ name: `Pager ${n}`, email: `p${i + 1}@pager.example` }]));
      await push(server, ...pagers);
    });

    it('pages through 5 results 2 at a time with X-HKP-Next-Page-Token', async () => {
      const seen: string[] = [];
      const sizes: number[] = [];
      let token: string | null = null;
      for (let page = 0; page < 10; page++) {
        const params: Record<string, string> = { op: 'index', options: 'mr', fingerprint: 'on', search: 'pager', 'x-pagesize': '2' };
        if (token !== null) params['x-pagetoken'] = token;
        const res = await lookup(server, params);
        expect(res.status, res.text).toBe(200);
        expect(res.headers.get('x-hkp-results-count')).toBe('5');
        const keys = parseMr(res.text);
        if (page === 0) expect(res.text.startsWith('info:1:2\n')).toBe(true);
        sizes.push(keys.length);
        seen.push(...fingerprints(keys));
        token = res.headers.get('x-hkp-next-page-token');
        if (token === null) break;
        expect(token).not.toBe('');
      }
      expect(sizes).toEqual([2, 2, 1]);
      expect(seen).toHaveLength(5);
      expect(new Set(seen).size).toBe(5);
      expect([...seen].sort()).toEqual(pagers.map((k) => k.fingerprint).sort());
    });

    it('gives no token when everything fits on one page', async () => {
      const res = await lookup(server, { op: 'index', options: 'mr', search: 'pager', 'x-pagesize': '256' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-hkp-next-page-token')).toBeNull();
      expect(res.headers.get('x-hkp-results-count')).toBe('5');
      expect(parseMr(res.text)).toHaveLength(5);
    });

    it('answers 400 with a JSON error for an invalid page token', async () => {
      for (const token of ['not-a-token', '!!!', 'AAAA']) {
        const res = await lookup(server, { op: 'index', options: 'mr', search: 'pager', 'x-pagesize': '2', 'x-pagetoken': token });
        expect(res.status, token).toBe(400);
        expect(res.json?.error?.code, token).toBe(400);
      }
    });
  });

  it('never lists v6 keys, and does not count them', async () => {
    const v4 = await makeKey([{ name: 'Sextus Versionis', email: 'sextus4@v6.example' }]);
    const { privateKey } = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ name: 'Sextus Versionis', email: 'sextus6@v6.example' }],
      format: 'object',
      config: { v6Keys: true },
    });
    const v6 = privateKey.toPublic();
    const v6Fpr = v6.getFingerprint().toUpperCase();
    await push(server, v4, v6.armor());
    const res = await lookup(server, { op: 'index', options: 'mr', search: 'sextus versionis' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-hkp-results-count')).toBe('1');
    expect(fingerprints(parseMr(res.text))).toEqual([v4.fingerprint]);
    expect(res.text).not.toContain('sextus6');
    for (const search of ['sextus6@v6.example', `0x${v6Fpr}`]) {
      for (const op of ['index', 'vindex']) {
        const miss = await lookup(server, { op, options: 'mr', search });
        expect(miss.status, `${op} ${search}`).toBe(404);
      }
    }
    const html = await lookup(server, { op: 'index', search: 'sextus versionis' }, BROWSER);
    expect(html.status).toBe(200);
    expect(html.text).toContain(grouped(v4.fingerprint));
    expect(html.text).not.toContain(grouped(v6Fpr));
    expect(html.text).not.toContain('sextus6');
  });

  describe('HTML for browsers', () => {
    let key: TestKey;
    let evil: TestKey;
    const EVIL_UID = '<script>alert(1)</script> <x@y.org>';

    beforeAll(async () => {
      key = await makeKey([{ name: 'Browser Person', email: 'browser@html.example' }]);
      evil = await makeKey([{ name: '<script>alert(1)</script>', email: 'x@y.org' }]);
      await push(server, key, evil);
    });

    it('op=index returns an HTML page with the fingerprint in groups of four and links to op=get and op=vindex', async () => {
      const res = await lookup(server, { op: 'index', search: 'browser@html.example' }, BROWSER);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/html/);
      expect(res.text.trimStart().toLowerCase()).toMatch(/^<!doctype html>/);
      expect(res.text).toContain(grouped(key.fingerprint));
      expect(res.text).toContain('Browser Person &lt;browser@html.example&gt;');
      const links = lookupLinks(res.text);
      const targets = (op: string) => links.filter((l) => l.get('op') === op).map((l) => l.get('search')?.replace(/^0x/i, '').toUpperCase());
      expect(targets('get')).toContain(key.fingerprint);
      expect(targets('vindex')).toContain(key.fingerprint);
    });

    it('op=vindex lists the signatures, with the issuer key ID of the self-signature', async () => {
      const keyId = key.fingerprint.slice(-16);
      const index = await lookup(server, { op: 'index', search: `0x${key.fingerprint}` }, BROWSER);
      expect(index.status).toBe(200);
      const res = await lookup(server, { op: 'vindex', fingerprint: 'on', search: `0x${key.fingerprint}` }, BROWSER);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/html/);
      expect(res.text).toContain(grouped(key.fingerprint));
      expect(res.text.toUpperCase()).toContain(keyId);
      // vindex shows more than index: the signatures and the subkey.
      expect(res.text.length).toBeGreaterThan(index.text.length);
      const sub = key.publicKey.getSubkeys()[0]!.getFingerprint().toUpperCase();
      expect(res.text).toContain(grouped(sub));
    });

    it('op=vindex names a third-party certifier that is stored here', async () => {
      // Certify Browser Person's user ID with another key, push both, and look for the certifier.
      const certifier = await makeKey([{ name: 'Certifier Notary', email: 'notary@html.example' }]);
      await push(server, certifier);
      const signed = await key.publicKey.signAllUsers([certifier.privateKey]);
      await push(server, signed.armor());
      const res = await lookup(server, { op: 'vindex', search: `0x${key.fingerprint}` }, BROWSER);
      expect(res.status).toBe(200);
      expect(res.text.toUpperCase()).toContain(certifier.fingerprint.slice(-16));
      expect(res.text).toContain('Certifier Notary &lt;notary@html.example&gt;');
    });

    it('escapes a user ID with markup in op=index and op=vindex pages', async () => {
      for (const op of ['index', 'vindex']) {
        const res = await lookup(server, { op, search: 'x@y.org' }, BROWSER);
        expect(res.status, op).toBe(200);
        expect(res.type, op).toMatch(/^text\/html/);
        expect(res.text, op).toContain(grouped(evil.fingerprint));
        expect(res.text, op).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &lt;x@y.org&gt;');
        expect(res.text.toLowerCase(), op).not.toContain('<script');
      }
      // The search text echoed on the page is escaped too.
      const echoed = await lookup(server, { op: 'index', search: EVIL_UID, exact: 'on' }, BROWSER);
      expect(echoed.status).toBe(200);
      expect(echoed.text.toLowerCase()).not.toContain('<script');
      const missing = await lookup(server, { op: 'index', search: '<script>nothing</script>' }, BROWSER);
      expect(missing.text.toLowerCase()).not.toContain('<script');
    });

    it('options=mr wins over Accept: text/html', async () => {
      const res = await lookup(server, { op: 'index', options: 'mr', search: 'browser@html.example' }, BROWSER);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/plain/);
      expect(fingerprints(parseMr(res.text))).toEqual([key.fingerprint]);
    });

    it('GET / returns an HTML page with a search form whose action is /pks/lookup', async () => {
      const res = await request(server, '/', {}, BROWSER);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/html/);
      expect(res.text).toMatch(/<form[^>]*\saction="\/pks\/lookup"/);
      expect(res.text).toMatch(/<input[^>]*\sname="search"/);
    });

    it('op=get returns an HTML page with the armor to a browser, and application/pgp-keys otherwise', async () => {
      const html = await lookup(server, { op: 'get', search: `0x${key.fingerprint}` }, BROWSER);
      expect(html.status).toBe(200);
      expect(html.type).toMatch(/^text\/html/);
      expect(html.text).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
      expect(html.text).toContain('-----END PGP PUBLIC KEY BLOCK-----');
      const plain = await lookup(server, { op: 'get', search: `0x${key.fingerprint}` });
      expect(plain.status).toBe(200);
      expect(plain.type).toBe('application/pgp-keys');
      expect(plain.text.startsWith('-----BEGIN PGP PUBLIC KEY BLOCK-----')).toBe(true);
      const mr = await lookup(server, { op: 'get', options: 'mr', search: `0x${key.fingerprint}` }, BROWSER);
      expect(mr.type).toBe('application/pgp-keys');
    });
  });
});

describe.each(backends)('op=stats on %s', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(async () => {
    await server?.close();
  });

  const stats = async () => {
    const res = await lookup(server, { op: 'stats', options: 'mr' });
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/json/);
    expect(res.json).toBeDefined();
    return res.json as {
      version: string;
      totalKeys: number;
      last24h: { inserted: number; updated: number };
      hourly: { inserted: number; updated: number }[];
      daily: { inserted: number; updated: number }[];
    };
  };
  const sum = (rows: { inserted: number; updated: number }[], field: 'inserted' | 'updated') => rows.reduce((n, r) => n + Number(r[field]), 0);

  it('counts keys, inserts and updates as keys are pushed', async () => {
    const empty = await stats();
    expect(empty.version).toBe('test');
    expect(empty.totalKeys).toBe(0);
    expect(empty.last24h).toEqual({ inserted: 0, updated: 0 });
    expect(Array.isArray(empty.hourly)).toBe(true);
    expect(Array.isArray(empty.daily)).toBe(true);

    const a = await makeKey([{ name: 'Stats One', email: 'one@stats.example' }]);
    const b = await makeKey([{ name: 'Stats Two', email: 'two@stats.example' }]);
    await push(server, a, b);
    const two = await stats();
    expect(two.totalKeys).toBe(2);
    expect(two.last24h).toEqual({ inserted: 2, updated: 0 });

    const c = await makeKey([{ name: 'Stats Three', email: 'three@stats.example' }]);
    await push(server, c);
    const three = await stats();
    expect(three.totalKeys).toBe(3);
    expect(three.last24h).toEqual({ inserted: 3, updated: 0 });

    // An update: the same key with a second user ID.
    const { privateKey } = await openpgp.reformatKey({
      privateKey: a.privateKey,
      userIDs: [
        { name: 'Stats One', email: 'one@stats.example' },
        { name: 'Stats One', email: 'second@stats.example' },
      ],
      format: 'object',
    });
    const res = await pushKeys(server.url, privateKey.toPublic().armor());
    expect(res.status).toBe(200);
    expect(res.json.updated).toEqual([a.fingerprint]);
    const updated = await stats();
    expect(updated.totalKeys).toBe(3);
    expect(updated.last24h).toEqual({ inserted: 3, updated: 1 });

    // Pushing a key again unchanged counts nothing.
    await push(server, b);
    const same = await stats();
    expect(same.totalKeys).toBe(3);
    expect(same.last24h).toEqual({ inserted: 3, updated: 1 });

    expect(same.hourly.length).toBeGreaterThan(0);
    expect(sum(same.hourly, 'inserted')).toBe(3);
    expect(sum(same.hourly, 'updated')).toBe(1);
    expect(same.daily.length).toBeGreaterThan(0);
    expect(sum(same.daily, 'inserted')).toBe(3);
    expect(sum(same.daily, 'updated')).toBe(1);
  });

  it('returns an HTML page to a browser without options=mr', async () => {
    const res = await lookup(server, { op: 'stats' }, BROWSER);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/html/);
    expect(res.text.trimStart().toLowerCase()).toMatch(/^<!doctype html>/);
    expect(res.json).toBeUndefined();
    const mr = await lookup(server, { op: 'stats', options: 'mr' }, BROWSER);
    expect(mr.type).toMatch(/^application\/json/);
  });
});
