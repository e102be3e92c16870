// Hostile input: a corpus of bad requests against the real server on every store. Each must get a 4xx with the
// JSON error (never a 5xx, never 502), the server must answer the next request, and no stored key may change.
// Two known keys are pushed first; their op=get armor is compared after every case and after the whole corpus.
import { createHash } from 'node:crypto';
import net from 'node:net';
import * as openpgp from 'openpgp';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeArmor } from '../../src/formats/armor.js';
import { Tag, fingerprintOf, readPackets, writePackets, type Packet } from '../../src/openpgp/packets.js';
import { pushKeys } from '../helpers/hkp.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { backends, startTestServer, type TestServer } from '../helpers/server.js';

// ---------------------------------------------------------------------------------------------------------------
// Byte helpers

/** Deterministic bytes (mulberry32), so a failing case is reproducible by its name. */
function seededBytes(seed: number, n: number): Uint8Array<ArrayBuffer> {
  let a = seed >>> 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}
const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const bytes = (...parts: (Uint8Array | number[] | string)[]): Uint8Array<ArrayBuffer> =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))));

/** An OpenPGP MPI of big-endian bytes (leading zeros stripped). */
function mpi(value: Uint8Array): Buffer {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  const b = value.subarray(i);
  const bits = (b.length - 1) * 8 + (32 - Math.clz32(b[0]!));
  return Buffer.concat([u16(bits), b]);
}

/** Percent-encodes every byte (what gpg does to keytext), so arbitrary bytes survive form encoding. */
function percentAll(data: Uint8Array): string {
  let s = '';
  for (const b of data) s += '%' + b.toString(16).padStart(2, '0').toUpperCase();
  return s;
}
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** A new-format packet header + body. */
const packet = (tag: number, body: Uint8Array): Packet => ({ tag, body });

// ---------------------------------------------------------------------------------------------------------------
// Key crafting

/**
 * A positive self-certification by `key` over arbitrary user-ID bytes (openpgp.js hashes whatever the
 * userID object's write() returns, so bytes that are not UTF-8 can be signed).
 */
async function selfCertify(key: TestKey, userId: Uint8Array): Promise<Packet> {
  const sig = new openpgp.SignaturePacket();
  sig.signatureType = openpgp.enums.signature.certPositive;
  sig.publicKeyAlgorithm = key.privateKey.keyPacket.algorithm;
  sig.hashAlgorithm = openpgp.enums.hash.sha256;
  sig.keyFlags = new Uint8Array([openpgp.enums.keyFlags.certifyKeys | openpgp.enums.keyFlags.signData]);
  const data = { userID: { write: () => userId }, key: key.privateKey.keyPacket };
  await (sig.sign as unknown as (k: unknown, d: unknown, date: Date, detached: boolean, config: unknown) => Promise<void>)(
    key.privateKey.keyPacket,
    data,
    new Date(),
    false,
    openpgp.config,
  );
  return packet(Tag.signature, sig.write());
}

/** A key's packets with an extra user ID (and its signatures) inserted after the existing user IDs. */
function withUserId(key: TestKey, userId: Uint8Array, sigs: Packet[] = []): Packet[] {
  const subkeyAt = key.packets.findIndex((p) => p.tag === Tag.publicSubkey);
  const at = subkeyAt < 0 ? key.packets.length : subkeyAt;
  return [...key.packets.slice(0, at), packet(Tag.userId, userId), ...sigs, ...key.packets.slice(at)];
}

/** Byte ranges of each signature's unhashed subpacket area inside writePackets(packets) (v4 signatures). */
function unhashedRanges(packets: Packet[]): [number, number][] {
  const ranges: [number, number][] = [];
  let offset = 0;
  for (const p of packets) {
    const header = p.body.length < 192 ? 2 : p.body.length < 8384 ? 3 : 6;
    const start = offset + header;
    if (p.tag === Tag.signature && p.body[0] === 4) {
      const hashedLength = (p.body[4]! << 8) + p.body[5]!;
      const at = 6 + hashedLength;
      const unhashedLength = (p.body[at]! << 8) + p.body[at + 1]!;
      ranges.push([start + at, start + at + 2 + unhashedLength]);
    }
    offset = start + p.body.length;
  }
  return ranges;
}

/** The same v4 signature with `extra` appended to its unhashed subpacket area: still verifies, other bytes. */
function padUnhashed(sig: Uint8Array, extra: Uint8Array): Uint8Array {
  const hashedLength = (sig[4]! << 8) + sig[5]!;
  const at = 6 + hashedLength;
  const unhashedLength = (sig[at]! << 8) + sig[at + 1]!;
  const unhashed = sig.subarray(at + 2, at + 2 + unhashedLength);
  return bytes(sig.subarray(0, at), u16(unhashedLength + extra.length), unhashed, extra, sig.subarray(at + 2 + unhashedLength));
}

/** Junk signatures claiming to be self-certifications by `fingerprint` (they never verify). */
function junkSelfSignatures(fingerprint: string, count: number, seed: number): Packet[] {
  const fpr = Buffer.from(fingerprint, 'hex');
  const out: Packet[] = [];
  for (let i = 0; i < count; i++) {
    const hashed = Buffer.concat([Buffer.from([5, 2]), u32(1_600_000_000 + i), Buffer.from([22, 33, 4]), fpr]);
    const unhashed = Buffer.concat([Buffer.from([9, 16]), fpr.subarray(12)]);
    const r = seededBytes(seed + i, 34);
    out.push(
      packet(
        Tag.signature,
        bytes(
          [4, 0x13, 22, 8],
          u16(hashed.length),
          hashed,
          u16(unhashed.length),
          unhashed,
          r.subarray(0, 2),
          [0, 255],
          r.subarray(2, 34),
          [0, 255],
          r.subarray(2, 34),
        ),
      ),
    );
  }
  return out;
}

/**
 * A v4 DSA key whose group parameters p and q have `bits` bits each (real DSA: p 1024-3072, q 160-256), with
 * one user ID and a self-certification that passes the 16-bit quick check but not the math. Verifying it costs
 * two modular exponentiations with `bits`-bit exponents: seconds of CPU for 8192 bits, hours at the packet limit.
 */
function oversizedDsaKey(bits: number, seed: number): Packet[] {
  const n = bits / 8;
  const rand = seededBytes(seed, 4 * n);
  const p = Buffer.from(rand.subarray(0, n));
  const q = Buffer.from(rand.subarray(n, 2 * n));
  p[0]! |= 0x80;
  q[0]! |= 0x80;
  p[n - 1]! |= 1;
  q[n - 1]! |= 1;
  const created = 1_700_000_000;
  const keyBody = bytes([4], u32(created), [17], mpi(p), mpi(q), mpi(rand.subarray(2 * n, 3 * n)), mpi(rand.subarray(3 * n)));
  const fpr = Buffer.from(fingerprintOf(keyBody), 'hex');
  const uid = Buffer.from('Oversized DSA <dsa@example.org>');
  const hashed = Buffer.concat([Buffer.from([5, 2]), u32(created), Buffer.from([22, 33, 4]), fpr]);
  const sigData = Buffer.concat([Buffer.from([4, 0x13, 17, 8]), u16(hashed.length), hashed]);
  const digest = createHash('sha256')
    .update(
      Buffer.concat([
        Buffer.from([0x99]),
        u16(keyBody.length),
        keyBody,
        Buffer.from([0xb4]),
        u32(uid.length),
        uid,
        sigData,
        Buffer.from([4, 0xff]),
        u32(sigData.length),
      ]),
    )
    .digest();
  // 0 < r, s < q: q with its top bit cleared.
  const r = Buffer.from(q);
  r[0]! &= 0x7f;
  const unhashed = Buffer.concat([Buffer.from([9, 16]), fpr.subarray(12)]);
  const sigBody = bytes(sigData, u16(unhashed.length), unhashed, digest.subarray(0, 2), mpi(r), mpi(r));
  return [packet(Tag.publicKey, keyBody), packet(Tag.userId, uid), packet(Tag.signature, sigBody)];
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP helpers

interface Reply {
  status: number | null;
  type: string;
  text: string;
  json: any;
  /** A connection-level failure (reset, closed without answer, timeout). */
  error?: string;
  /** rawHttp: everything the server sent. */
  raw?: string;
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function send(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Reply> {
  try {
    const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(init.timeoutMs ?? 30_000), ...init });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: parseJson(text) };
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { status: null, type: '', text: '', json: undefined, error: `${(e as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}` };
  }
}

/**
 * Writes raw bytes on a new connection and reads until the server closes it (or timeoutMs). `then`:
 * 'wait' keeps the connection open, 'end' half-closes after writing, 'destroy' aborts after `abortAfterMs`.
 */
function rawHttp(
  port: number,
  data: Uint8Array | string,
  opts: { then?: 'wait' | 'end' | 'destroy'; timeoutMs?: number; abortAfterMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let settled = false;
    const socket = net.connect(port, '127.0.0.1');
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const text = all.toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const length = /^content-length:\s*(\d+)/im.exec(head)?.[1];
      const rest = split < 0 ? Buffer.alloc(0) : all.subarray(split + 4);
      const body = (length === undefined ? rest : rest.subarray(0, Number(length))).toString('utf8');
      const type = /^content-type:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? '';
      resolve(
        match
          ? { status: Number(match[1]), type, text: body, json: parseJson(body), raw: text }
          : { status: null, type: '', text: '', json: undefined, error: error ?? 'connection closed without a response' },
      );
    };
    const timer = setTimeout(() => {
      error ??= 'timeout';
      finish();
    }, opts.timeoutMs ?? 10_000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e) => {
      error = (e as NodeJS.ErrnoException).code ?? e.message;
      finish();
    });
    socket.on('close', finish);
    socket.on('connect', () => {
      socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, () => {
        if (opts.then === 'end') socket.end();
        if (opts.then === 'destroy')
          setTimeout(() => {
            error = 'aborted by the client';
            finish();
          }, opts.abortAfterMs ?? 100);
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The corpus

interface Case {
  name: string;
  send: () => Promise<Reply>;
  /** Statuses accepted for this input (never a 5xx). */
  allow: number[];
  /** A connection error is acceptable (Node refuses the request at the HTTP layer). */
  connectionErrorOk?: boolean;
  /** The answer may come from Node's HTTP layer (e.g. 431), without the JSON error. */
  nodeAnswerOk?: boolean;
  /** The answer must come within this many milliseconds (work amplification). */
  budgetMs?: number;
  /** No body to check (HEAD). */
  bodyless?: boolean;
  /** A 200 to /pks/add may insert a new key (a fresh key with odd user IDs), never update one. */
  mayInsert?: boolean;
  /** Sent as a browser (Accept: text/html): an error comes as a page, not as JSON. */
  browser?: boolean;
  check?: (reply: Reply) => void | Promise<void>;
}

function summarize(reply: Reply): string {
  return reply.error ? `connection error: ${reply.error}` : `${reply.status} ${reply.type} ${reply.text.slice(0, 300)}`;
}

function assertAnswer(c: Case, reply: Reply): void {
  const what = `${c.name} → ${summarize(reply)}`;
  if (reply.status === null) {
    expect(c.connectionErrorOk, what).toBe(true);
    return;
  }
  expect(reply.status, what).not.toBe(502);
  // 501 (op not supported) is the one 5xx HKP defines for a client's request.
  if (reply.status !== 501 || !c.allow.includes(501)) expect(reply.status, what).toBeLessThan(500);
  expect(c.allow, what).toContain(reply.status);
  const fromNode = c.nodeAnswerOk && !reply.type.startsWith('application/json');
  if (reply.status >= 400 && !fromNode && !c.bodyless && c.browser && reply.type.startsWith('text/html')) {
    // A browser's error page carries the message as the JSON would.
    expect(reply.text, what).toMatch(/^<!doctype html>/);
    expect(reply.text, what).toMatch(/<p class="notice">[^<]+<\/p>/);
  } else if (reply.status >= 400 && !fromNode && !c.bodyless) {
    expect(reply.type, what).toMatch(/^application\/json/);
    expect(reply.json?.error, what).toEqual({ code: reply.status, reason: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) });
    expect(reply.json.error.message.length, what).toBeGreaterThan(0);
  }
  if (reply.status === 200 && reply.json && Array.isArray(reply.json.updated)) {
    expect(reply.json.updated, what).toEqual([]);
    if (!c.mayInsert) expect(reply.json.inserted, what).toEqual([]);
  }
}

/**
 * A tag that came from a key or a query and was not escaped. The pages' own script tag (the copy buttons' file) and
 * statistics chart (only numbers and dates) are taken out before looking; they have no other script, svg, image or frame.
 */
const HTML_INJECTION = /<\s*\/?\s*(script|img|svg|iframe)\b/i;
const withoutOwnMarkup = (page: string) =>
  page
    .replace(/<script src="\/static\/keystore\.js\?v=[0-9a-f]+" defer><\/script>/, '')
    .replace(
      /<svg class="chart" viewBox="[\d ]+" role="img" aria-labelledby="chart-title" xmlns="http:\/\/www\.w3\.org\/2000\/svg">[^]*?<\/svg>/,
      '',
    );

describe.each(backends)('hostile input on %s', (backend) => {
  let server: TestServer;
  let url: string;
  let port: number;
  const logLines: string[] = [];
  // The two known keys: A is certified by B; B's user ID carries an HTML/script injection (escaped in pages).
  let a: TestKey;
  let b: TestKey;
  let aArmor: string;
  const snapshot = new Map<string, string>();

  const add = (init: RequestInit & { timeoutMs?: number }, query = '?options=mr') => send(`${url}/pks/add${query}`, { method: 'POST', ...init });
  const addForm = (body: string | Uint8Array, query = '?options=mr') =>
    add({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: typeof body === 'string' ? body : new Uint8Array(body) }, query);
  const addBinary = (body: Uint8Array, type = 'application/octet-stream') => add({ headers: { 'content-type': type }, body: new Uint8Array(body) });
  const addKeytext = (keytext: string) => addForm(form({ keytext }));
  const addPackets = (packets: Packet[]) => addBinary(writePackets(packets), 'application/pgp-keys');
  const get = (query: string, headers: Record<string, string> = {}) => send(`${url}/pks/lookup?${query}`, { headers });
  const getKey = (fingerprint: string) => get(`op=get&options=mr&search=0x${fingerprint}`);

  async function assertAlive(context: string): Promise<void> {
    const health = await send(`${url}/pks/health`, { timeoutMs: 10_000 });
    expect(health.status, `after ${context}: GET /pks/health → ${summarize(health)}`).toBe(200);
    for (const [fpr, armor] of snapshot) {
      const now = await getKey(fpr);
      expect(now.status, `after ${context}: known key ${fpr} → ${summarize(now)}`).toBe(200);
      expect(now.text, `after ${context}: known key ${fpr} changed`).toBe(armor);
    }
  }

  async function runCase(c: Case): Promise<void> {
    const logsBefore = logLines.length;
    const started = performance.now();
    const reply = await c.send();
    const elapsed = performance.now() - started;
    const errors = logLines.slice(logsBefore).filter((l) => l.includes('"level":50'));
    try {
      if (c.budgetMs !== undefined)
        expect(elapsed, `${c.name}: answered in ${Math.round(elapsed)} ms, over the budget of ${c.budgetMs} ms (${summarize(reply)})`).toBeLessThan(
          c.budgetMs,
        );
      assertAnswer(c, reply);
      if (reply.status !== null && c.check) await c.check(reply);
    } catch (e) {
      if (errors.length > 0) (e as Error).message += `\nserver error log:\n${errors.join('')}`;
      throw e;
    }
    await assertAlive(c.name);
  }

  beforeAll(async () => {
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) });
    server = await startTestServer(backend, {}, logger);
    url = server.url;
    port = server.port;
    b = await makeKey([{ name: 'Known Two "><script>alert(1)</script><img src=x onerror=alert(2)>', email: 'known2@example.org' }]);
    a = await makeKey([{ name: 'Known One', email: 'known1@example.org' }]);
    aArmor = encodeArmor(writePackets(a.packets));
    expect((await pushKeys(url, b.armored)).status).toBe(200);
    const certified = await a.publicKey.signAllUsers([b.privateKey]);
    const pushed = await pushKeys(url, certified.armor());
    expect(pushed.json?.inserted).toEqual([a.fingerprint]);
    for (const k of [a, b]) {
      const res = await getKey(k.fingerprint);
      expect(res.status).toBe(200);
      snapshot.set(k.fingerprint, res.text);
    }
    // B's certification on A was kept, so vindex pages name B (with its script) as an issuer.
    expect(Buffer.from(snapshot.get(a.fingerprint)!).length).toBeGreaterThan(Buffer.from(encodeArmor(writePackets(a.packets))).length);
  });
  afterAll(async () => {
    await server?.close();
  });

  // ---- POST /pks/add -----------------------------------------------------------------------------------------
  const addCases: Case[] = [];
  const addCase = (c: Case) => addCases.push(c);

  for (const size of [1, 2, 16, 255, 4096, 65_537, 1_000_000]) {
    for (const type of ['application/octet-stream', 'application/pgp-keys', 'text/plain']) {
      addCase({ name: `random bytes (${size} B) as ${type}`, send: () => addBinary(seededBytes(size, size), type), allow: [400, 422] });
    }
    addCase({
      name: `random bytes (${size} B) as keytext`,
      send: () => addForm(`keytext=${percentAll(seededBytes(size + 1, Math.min(size, 300_000)))}`),
      allow: [400],
    });
  }
  for (let seed = 1; seed <= 12; seed++) {
    // Random bodies behind a plausible public-key packet header, with the version and algorithm bytes set.
    addCase({
      name: `random public-key packet #${seed}`,
      send: () => {
        const body = seededBytes(1000 + seed, 20 + seed * 37);
        body[0] = [3, 4, 5, 6][seed % 4]!;
        body[5] = [1, 16, 17, 18, 19, 22, 25, 27][seed % 8]!;
        return addPackets([
          packet(Tag.publicKey, body),
          packet(Tag.userId, bytes('Fuzz <fuzz@example.org>')),
          ...junkSelfSignatures(fingerprintOrZero(body), 1, seed),
        ]);
      },
      allow: [400, 422],
    });
  }
  for (const cut of [1, 20, 36, 0.1, 0.3, 0.5, 0.9, -30, -10, -2]) {
    addCase({
      name: `armor truncated at ${cut}`,
      send: () => {
        const at = Number.isInteger(cut) ? (cut < 0 ? aArmor.trimEnd().length + cut : cut) : Math.floor(aArmor.length * cut);
        return addKeytext(aArmor.slice(0, at));
      },
      allow: [400, 422],
    });
  }
  for (const fraction of [0.25, 0.5, 0.75]) {
    addCase({
      name: `armor truncated at a line boundary (${fraction}) with the END line kept, CRC stale`,
      send: () => {
        const lines = aArmor.trimEnd().split('\n');
        const body = lines.slice(2, -2);
        return addKeytext([...lines.slice(0, 2), ...body.slice(0, Math.floor(body.length * fraction)), ...lines.slice(-2)].join('\n'));
      },
      allow: [400, 422],
    });
    addCase({
      name: `armor truncated at a line boundary (${fraction}) without CRC`,
      send: () => {
        const lines = aArmor.trimEnd().split('\n');
        const body = lines.slice(2, -2);
        return addKeytext([...lines.slice(0, 2), ...body.slice(0, Math.floor(body.length * fraction)), lines.at(-1)!].join('\n'));
      },
      allow: [200, 400, 422],
    });
    addCase({
      name: `binary key truncated at ${fraction}`,
      send: () => {
        const all = writePackets(a.packets);
        return addBinary(all.subarray(0, Math.floor(all.length * fraction)));
      },
      allow: [200, 400, 422],
    });
  }
  addCase({
    name: 'armor with a bad CRC',
    send: () => addKeytext(aArmor.replace(/^=(.{4})$/m, (_, crc: string) => `=${crc === 'AAAA' ? 'BBBB' : 'AAAA'}`)),
    allow: [400],
  });
  addCase({ name: 'armor with a CRC line that is not base64', send: () => addKeytext(aArmor.replace(/^=(.{4})$/m, '=!!!!')), allow: [400] });
  for (const [label, bad] of [
    ['!', '!'],
    ['*', '*'],
    ['é', 'é'],
    ['NUL', '\u0000'],
    ['inner space', 'A B'],
    ['-', '-'],
    ['=', '='],
  ] as const) {
    addCase({
      name: `armor with bad base64 character ${label}`,
      send: () => {
        const lines = aArmor.split('\n');
        lines[3] = lines[3]!.slice(0, 10) + bad + lines[3]!.slice(10);
        return addKeytext(lines.join('\n'));
      },
      allow: [400],
    });
  }
  addCase({ name: 'armor with a 3-character base64 line', send: () => addKeytext(aArmor.replace(/\n=/, '\nZZZ\n=')), allow: [400] });
  for (const [label, data] of [
    ['text', () => bytes('hello, this is not OpenPGP at all')],
    ['random bytes', () => seededBytes(77, 300)],
    ['a literal data packet', () => bytes([0xcb, 10, 0x62, 0, 0, 0, 0, 0], 'ab')],
    ['a lone signature packet', () => writePackets(junkSelfSignatures(a.fingerprint, 1, 5))],
    ['a lone user ID packet', () => writePackets([packet(Tag.userId, bytes('Lonely <lonely@example.org>'))])],
    ['nothing', () => new Uint8Array(0)],
  ] as const) {
    addCase({ name: `armor with a valid CRC around ${label}`, send: () => addKeytext(encodeArmor(data())), allow: [400, 422] });
  }
  addCase({ name: 'a PGP MESSAGE block holding a key', send: () => addKeytext(encodeArmor(writePackets(a.packets), 'MESSAGE')), allow: [400] });
  addCase({ name: 'a PGP SIGNATURE block', send: () => addKeytext(encodeArmor(seededBytes(3, 64), 'SIGNATURE')), allow: [400] });
  // Work amplification: each unreadable block or unusable key of one request must not cost a database write.
  addCase({
    name: 'an armor BEGIN line only, 2,000 times (74 KB)',
    send: () =>
      add({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ keytext: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n'.repeat(2000) }),
        timeoutMs: 2500,
      }),
    allow: [400, 413, 422],
    budgetMs: 1500,
  });
  addCase({
    name: 'armor headers only (no body)',
    send: () => addKeytext('-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: x\n\n-----END PGP PUBLIC KEY BLOCK-----\n'),
    allow: [400, 422],
  });

  // Content types.
  addCase({
    name: 'application/json body with a keytext',
    send: () => add({ headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keytext: aArmor }) }),
    allow: [415],
  });
  addCase({
    name: 'text/xml body',
    send: () => add({ headers: { 'content-type': 'text/xml' }, body: `<keytext>${aArmor}</keytext>` }),
    allow: [415],
  });
  addCase({
    name: 'image/png body',
    send: () => add({ headers: { 'content-type': 'image/png' }, body: bytes([0x89], 'PNG\r\n\x1a\n', seededBytes(9, 200)) }),
    allow: [415],
  });
  addCase({ name: 'content type ";;;"', send: () => add({ headers: { 'content-type': ';;;' }, body: aArmor }), allow: [415] });
  addCase({
    name: 'content type with 2,000 parameters',
    send: () => add({ headers: { 'content-type': 'application/x-www-form-urlencoded' + '; a=b'.repeat(2_000) }, body: form({ keytext: 'x' }) }),
    allow: [400, 415, 431],
    nodeAnswerOk: true,
    connectionErrorOk: true,
  });
  addCase({ name: 'no content type, binary body', send: () => add({ body: seededBytes(11, 500) }), allow: [400, 415] });
  addCase({ name: 'no content type, no body', send: () => add({}), allow: [400, 415] });
  addCase({
    name: 'form content type with charset=utf-16 and binary',
    send: () => add({ headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-16' }, body: seededBytes(12, 400) }),
    allow: [400, 415],
  });

  // keytext in the query string only, empty bodies.
  addCase({
    name: 'keytext in the query string, empty body',
    send: () => addForm('', `?options=mr&keytext=${encodeURIComponent(aArmor)}`),
    allow: [400],
  });
  addCase({ name: 'keytext=junk in the query string, empty body', send: () => addForm('', '?keytext=hello'), allow: [400] });
  for (const [label, body] of [
    ['empty', ''],
    ['keytext=', 'keytext='],
    ['keytext of whitespace', 'keytext=%20%0D%0A%09'],
    ['only "&"', '&&&&'],
    ['only "="', '====='],
    ['keytext without "="', 'keytext'],
  ] as const) {
    addCase({ name: `form body: ${label}`, send: () => addForm(body), allow: [400] });
  }
  for (const type of ['application/octet-stream', 'application/pgp-keys', 'text/plain']) {
    addCase({ name: `empty ${type} body`, send: () => addBinary(new Uint8Array(0), type), allow: [400] });
  }
  addCase({
    name: 'empty multipart body',
    send: () => add({ headers: { 'content-type': 'multipart/form-data; boundary=XyZ' }, body: '' }),
    allow: [400],
  });

  // Gigantic fields.
  addCase({ name: 'keytext of 20 MB (Content-Length declared)', send: () => addForm('keytext=' + 'A'.repeat(20 * 1024 * 1024)), allow: [413] });
  addCase({
    name: 'keytext of 20 MB (chunked, no Content-Length)',
    send: () => {
      let sent = 0;
      const chunk = new TextEncoder().encode('A'.repeat(1024 * 1024));
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === 0) controller.enqueue(new TextEncoder().encode('keytext='));
          if (sent >= 20) return controller.close();
          sent++;
          controller.enqueue(chunk);
        },
      });
      return add({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, duplex: 'half' } as RequestInit);
    },
    allow: [413],
    // The server may answer 413 and close while the client still streams.
    connectionErrorOk: true,
  });
  addCase({
    name: 'a known key plus an other field of 9 MB',
    send: () => addForm(form({ keytext: aArmor, comment: 'x'.repeat(9 * 1024 * 1024) })),
    allow: [413],
  });
  addCase({ name: 'an other field of 7 MB and no keytext', send: () => addForm(form({ comment: 'x'.repeat(7 * 1024 * 1024) })), allow: [400] });
  addCase({ name: 'a field name of 1 MB', send: () => addForm(`${'k'.repeat(1024 * 1024)}=1`), allow: [400] });
  addCase({ name: 'a binary body of 9 MB', send: () => addBinary(seededBytes(99, 9 * 1024 * 1024)), allow: [413] });

  // Multipart.
  const multipart = (boundary: string, parts: string) =>
    add({ headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: parts });
  addCase({
    name: 'multipart without keytext',
    send: () => multipart('b0', '--b0\r\nContent-Disposition: form-data; name="other"\r\n\r\nvalue\r\n--b0--\r\n'),
    allow: [400],
  });
  addCase({
    name: 'multipart with a boundary that is not in the body',
    send: () => multipart('nothere', `--b0\r\nContent-Disposition: form-data; name="keytext"\r\n\r\n${aArmor}\r\n--b0--\r\n`),
    allow: [400],
  });
  addCase({
    name: 'multipart without a boundary parameter',
    send: () =>
      add({
        headers: { 'content-type': 'multipart/form-data' },
        body: `--b0\r\nContent-Disposition: form-data; name="keytext"\r\n\r\nx\r\n--b0--\r\n`,
      }),
    allow: [400],
  });
  addCase({ name: 'multipart with an empty boundary', send: () => multipart('', '--\r\n\r\n----\r\n'), allow: [400] });
  addCase({
    name: 'multipart with a 1,000-character boundary',
    send: () =>
      multipart('q'.repeat(1000), `--${'q'.repeat(1000)}\r\nContent-Disposition: form-data; name="keytext"\r\n\r\nx\r\n--${'q'.repeat(1000)}--\r\n`),
    allow: [400],
  });
  addCase({
    name: 'multipart never closed',
    send: () => multipart('b0', `--b0\r\nContent-Disposition: form-data; name="keytext"\r\n\r\n${aArmor.slice(0, 200)}`),
    allow: [400],
  });
  addCase({ name: 'multipart part without headers', send: () => multipart('b0', '--b0\r\n\r\nkeytext\r\n--b0--\r\n'), allow: [400] });
  addCase({
    name: 'multipart keytext file of random bytes',
    send: () => {
      const fd = new FormData();
      fd.set('keytext', new Blob([new Uint8Array(seededBytes(21, 2000))]), 'key.gpg');
      return add({ body: fd });
    },
    allow: [400, 422],
  });
  addCase({
    name: 'multipart with 2,000 parts, none keytext',
    send: () => {
      const fd = new FormData();
      for (let i = 0; i < 2000; i++) fd.append(`f${i}`, 'v');
      return add({ body: fd });
    },
    allow: [400],
  });

  // Invalid UTF-8 in the body.
  addCase({
    name: 'raw invalid UTF-8 bytes as keytext',
    send: () => addForm(bytes('keytext=', [0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xc0, 0x80])),
    allow: [400],
  });
  addCase({ name: 'percent-encoded invalid UTF-8 as keytext', send: () => addForm('keytext=%FF%FE%C3%28%ED%A0%80%C0%80%00'), allow: [400] });
  addCase({
    name: 'raw invalid UTF-8 in an armor header line of a known key',
    send: () =>
      addForm(
        bytes(
          'keytext=',
          encodeURIComponent(aArmor.split('\n')[0]!),
          '%0A',
          'Comment: ',
          [0xff, 0xfe, 0xc3, 0x28],
          '%0A',
          encodeURIComponent(aArmor.split('\n').slice(1).join('\n')),
        ),
      ),
    allow: [200, 400],
  });
  addCase({
    name: 'latin-1 garbage before a known key in a binary body',
    send: () => addBinary(bytes([0xff, 0xfe, 0xa9, 0x00], '\n', aArmor)),
    allow: [200, 400],
  });

  // Injection strings as keytext.
  for (const text of [
    "' OR 1=1 --",
    "'; DROP TABLE keys; --",
    "%' OR '1'='1",
    '\\',
    '%_%',
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    '${jndi:ldap://x/a}',
    '{{7*7}}',
    '\u0000',
  ]) {
    addCase({ name: `keytext ${JSON.stringify(text)}`, send: () => addKeytext(text), allow: [400] });
    addCase({ name: `binary body ${JSON.stringify(text)}`, send: () => addBinary(bytes(Buffer.from(text))), allow: [400] });
  }

  // Repeated parameters.
  addCase({
    name: 'keytext=a&keytext=b ×1000',
    send: () => addForm(Array.from({ length: 1000 }, (_, i) => `keytext=${i % 2 ? 'b' : 'a'}`).join('&')),
    allow: [400],
  });
  addCase({
    name: 'a known key then keytext=junk ×1000',
    send: () => addForm(`${form({ keytext: aArmor })}&${'keytext=junk&'.repeat(1000)}`),
    allow: [200],
  });
  addCase({ name: 'options=mr ×1000 in the query, no keytext', send: () => addForm('other=1', `?${'options=mr&'.repeat(1000)}`), allow: [400] });
  addCase({
    name: '10,000 distinct form fields, no keytext',
    send: () => addForm(Array.from({ length: 10_000 }, (_, i) => `f${i}=${i}`).join('&')),
    allow: [400],
  });

  // Secret keys, odd key packets, odd framing.
  addCase({
    name: 'the secret key of a known key (armored)',
    send: () => addKeytext(a.privateKey.armor()),
    allow: [422],
    check: (r) => expect(r.text).toMatch(/secret key/),
  });
  addCase({ name: 'the secret key of a known key (binary)', send: () => addBinary(a.privateKey.write()), allow: [422] });
  addCase({ name: 'a known public key followed by its secret key', send: () => addKeytext(aArmor + '\n' + a.privateKey.armor()), allow: [200, 422] });
  addCase({
    name: 'a known public key with a secret subkey packet',
    send: () => {
      const secretSub = readPackets(a.privateKey.write()).find((p) => p.tag === Tag.secretSubkey)!;
      return addPackets([...a.packets, secretSub]);
    },
    allow: [422],
  });
  addCase({
    name: 'a v3 RSA key packet with a user ID',
    send: () => {
      const n = seededBytes(31, 128);
      n[0]! |= 0x80;
      return addPackets([
        packet(Tag.publicKey, bytes([3], u32(1_000_000_000), [0, 0, 1], mpi(n), mpi(new Uint8Array([1, 0, 1])))),
        packet(Tag.userId, bytes('Old <v3@example.org>')),
      ]);
    },
    allow: [422],
  });
  for (const version of [0, 2, 5, 7, 9, 255]) {
    addCase({
      name: `a key packet of version ${version}`,
      send: () =>
        addPackets([
          packet(Tag.publicKey, bytes([version], u32(1_600_000_000), [22], seededBytes(version, 60))),
          packet(Tag.userId, bytes('V <v@example.org>')),
        ]),
      allow: [400, 422],
    });
  }
  for (const algorithm of [0, 99, 100, 110, 255]) {
    addCase({
      name: `a v4 key packet with unknown algorithm ${algorithm}`,
      send: () =>
        addPackets([
          packet(Tag.publicKey, bytes([4], u32(1_600_000_000), [algorithm], mpi(seededBytes(algorithm + 1, 32)))),
          packet(Tag.userId, bytes('A <alg@example.org>')),
          ...junkSelfSignatures('00'.repeat(20), 1, algorithm),
        ]),
      allow: [400, 422],
    });
  }
  addCase({
    name: 'an EdDSA key packet with an unknown curve OID',
    send: () =>
      addPackets([
        packet(Tag.publicKey, bytes([4], u32(1_600_000_000), [22, 5, 1, 2, 3, 4, 5], mpi(bytes([0x40], seededBytes(5, 32))))),
        packet(Tag.userId, bytes('C <curve@example.org>')),
      ]),
    allow: [400, 422],
  });
  addCase({
    name: 'a known key with its subkey packet replaced by one of an unknown algorithm',
    send: () =>
      addPackets(
        a.packets.map((p) => (p.tag === Tag.publicSubkey ? packet(Tag.publicSubkey, bytes(p.body.subarray(0, 5), [99], p.body.subarray(6))) : p)),
      ),
    allow: [200, 422],
  });
  addCase({
    name: 'old-format key packet with indeterminate length',
    send: () => addBinary(bytes([0x80 | (Tag.publicKey << 2) | 3], a.packets[0]!.body)),
    allow: [400],
  });
  addCase({
    name: 'old-format 4-byte length of 4 GB',
    send: () => addBinary(bytes([0x80 | (Tag.publicKey << 2) | 2, 0xff, 0xff, 0xff, 0xff], a.packets[0]!.body)),
    allow: [400],
  });
  addCase({
    name: 'new-format 5-byte length of 4 GB',
    send: () => addBinary(bytes([0xc0 | Tag.publicKey, 255, 0xff, 0xff, 0xff, 0xff], a.packets[0]!.body)),
    allow: [400],
  });
  addCase({ name: 'new-format partial body length', send: () => addBinary(bytes([0xc0 | Tag.publicKey, 0xe5], a.packets[0]!.body)), allow: [400] });
  addCase({ name: 'a packet header alone', send: () => addBinary(bytes([0xc6])), allow: [400] });
  addCase({ name: 'a byte without the packet bit', send: () => addBinary(bytes([0x06, 0x01, 0x04])), allow: [400] });
  addCase({ name: '100,000 empty marker packets', send: () => addBinary(bytes(...Array.from({ length: 100_000 }, () => [0xca, 0]))), allow: [400] });
  addCase({
    name: '2,000 empty key packets (4 KB)',
    send: () =>
      add({
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes(...Array.from({ length: 2000 }, () => [0xc6, 0])),
        timeoutMs: 2500,
      }),
    allow: [400, 413, 422],
    budgetMs: 1500,
  });

  // User IDs with invalid UTF-8 or a NUL on a known key, unsigned or with a signature copied from another
  // user ID: dropped, the key unchanged.
  const oddUserIds: [string, Uint8Array][] = [
    ['invalid UTF-8', bytes('M', [0xfc], 'ller ', [0xff, 0xc3, 0x28], ' <odd-latin1@example.org>')],
    ['a NUL byte', bytes('Odd\u0000Name <odd-nul@example.org>')],
    ['CR LF and a fake index line', bytes('x\r\npub:0000000000000000000000000000000000000000:1:2048:0::\r\nuid:forged')],
  ];
  for (const [label, uid] of oddUserIds) {
    addCase({
      name: `an unsigned user ID with ${label} on a known key`,
      send: () => addPackets(withUserId(a, uid)),
      allow: [200],
      check: (r) => expect(r.json.unchanged).toEqual([a.fingerprint]),
    });
    addCase({
      name: `a user ID with ${label} on a known key, with a self-signature copied from its real user ID`,
      send: () => {
        const sig = a.packets[a.packets.findIndex((p) => p.tag === Tag.userId) + 1]!;
        return addPackets(withUserId(a, uid, [sig]));
      },
      allow: [200],
      check: (r) => expect(r.json.unchanged).toEqual([a.fingerprint]),
    });
  }
  addCase({
    name: 'a known key with 2,000 junk self-signatures on its user ID',
    send: () => addPackets(withUserId(a, a.packets.find((p) => p.tag === Tag.userId)!.body, junkSelfSignatures(a.fingerprint, 2000, 7))),
    allow: [200],
  });
  addCase({
    name: 'a known key with a 2 MB user ID',
    send: () => addPackets(withUserId(a, new Uint8Array(2 * 1024 * 1024).fill(0x41))),
    allow: [200],
  });
  addCase({
    name: 'a known key with 5,000 unsigned user IDs',
    send: () => addPackets([...a.packets, ...Array.from({ length: 5000 }, (_, i) => packet(Tag.userId, bytes(`u${i} <u${i}@example.org>`)))]),
    allow: [200],
  });
  addCase({
    name: 'a known key with one byte flipped outside unhashed areas (40 positions)',
    send: async () => {
      // Many variants in one case: each must be refused or change nothing; the first bad answer is returned.
      const all = writePackets(a.packets);
      const skip = unhashedRanges(a.packets);
      const positions = [...seededBytes(4242, 200)]
        .map((x, i) => (x * 257 + i * 7919) % all.length)
        .filter((p) => !skip.some(([s, e]) => p >= s && p < e))
        .slice(0, 40);
      let last: Reply | undefined;
      for (const position of positions) {
        const mutated = new Uint8Array(all);
        mutated[position]! ^= 0x5a;
        last = await addBinary(mutated);
        const bad =
          last.status === null || last.status >= 500 || (last.status === 200 && (last.json.updated.length > 0 || last.json.inserted.length > 0));
        if (bad) return { ...last, text: `(byte ${position}) ${last.text}` };
      }
      return last!;
    },
    allow: [200, 400, 422],
  });

  it('setup: both known keys are stored', async () => {
    await assertAlive('setup');
  });

  it.each(addCases.map((c) => [c.name, c] as const))('POST /pks/add: %s', async (_name, c) => {
    await runCase(c);
  });

  it('POST /pks/add: Content-Length larger than the body, client aborts', async () => {
    const reply = await rawHttp(
      port,
      `POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nkeytext=abc`,
      { then: 'destroy', abortAfterMs: 200 },
    );
    expect(reply.status === null || reply.status < 500, summarize(reply)).toBe(true);
    await assertAlive('a client abort');
  });

  it('POST /pks/add: Content-Length larger than the body, client half-closes', async () => {
    await runCase({
      name: 'Content-Length 100000 with 11 bytes, then FIN',
      send: () =>
        rawHttp(
          port,
          `POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\nConnection: close\r\n\r\nkeytext=abc`,
          { then: 'end', timeoutMs: 5000 },
        ),
      allow: [400],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    });
  });

  it('POST /pks/add: Content-Length smaller than the body (request smuggling shape)', async () => {
    const body = form({ keytext: 'x' });
    await runCase({
      name: 'Content-Length smaller than the body',
      send: () =>
        rawHttp(
          port,
          `POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}GET /pks/health HTTP/1.1\r\nHost: x\r\n\r\n`,
          { timeoutMs: 5000 },
        ),
      allow: [400],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    });
  });

  it('POST /pks/add: both Content-Length and chunked Transfer-Encoding', async () => {
    await runCase({
      name: 'Content-Length with Transfer-Encoding: chunked',
      send: () =>
        rawHttp(
          port,
          'POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n9\r\nkeytext=x\r\n0\r\n\r\n',
          { timeoutMs: 5000 },
        ),
      allow: [400],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    });
  });

  // ---- user IDs that are signed but odd, on fresh keys ----------------------------------------------------------
  it('a fresh key with signed user IDs of invalid UTF-8, NUL and CR LF: accepted or refused, never garbling the index', async () => {
    const key = await makeKey([{ name: 'Odd Names', email: 'odd-names@example.org' }]);
    let packets = key.packets;
    for (const [, uid] of oddUserIds) packets = withUserId({ ...key, packets }, uid, [await selfCertify(key, uid)]);
    const reply = await addPackets(packets);
    assertAnswer({ name: 'signed odd user IDs', send: async () => reply, allow: [200, 422], mayInsert: true }, reply);
    if (reply.status === 200) {
      expect(reply.json.inserted).toEqual([key.fingerprint]);
      // Nothing lost silently: each user ID is stored byte for byte, or reported as dropped.
      const stored = await getKey(key.fingerprint);
      expect(stored.status).toBe(200);
      const storedIds = readPackets(
        new Uint8Array(
          Buffer.from(
            stored.text
              .split('\n')
              .filter((l) => /^[A-Za-z0-9+/=]+$/.test(l) && !l.startsWith('='))
              .join(''),
            'base64',
          ),
        ),
      )
        .filter((p) => p.tag === Tag.userId)
        .map((p) => Buffer.from(p.body).toString('hex'));
      for (const [label, uid] of oddUserIds) {
        const kept = storedIds.includes(Buffer.from(uid).toString('hex'));
        const dropped = (reply.json.dropped as { component: string }[]).length > 0;
        expect(kept || dropped, `user ID with ${label}`).toBe(true);
      }
      for (const op of ['index', 'vindex']) {
        const mr = await get(`op=${op}&options=mr&fingerprint=on&search=0x${key.fingerprint}`);
        expect(mr.status, summarize(mr)).toBe(200);
        const lines = mr.text.split('\n').filter((l) => l !== '');
        expect(lines[0]).toBe('info:1:1');
        expect(lines.filter((l) => l.startsWith('pub:'))).toHaveLength(1);
        for (const line of lines) expect(line, `${op} line`).toMatch(/^(info|pub|uid):[\x20-\x7e]*$/);
        const html = await get(`op=${op}&search=0x${key.fingerprint}`, { accept: 'text/html' });
        expect(html.status).toBe(200);
        expect(html.text).not.toMatch(/\u0000/);
        expect(html.text).not.toMatch(HTML_INJECTION);
      }
    }
    await assertAlive('signed odd user IDs');
  });

  it('a re-push of a stored key whose self-signature got bytes appended to its unhashed area changes nothing', async () => {
    // The unhashed area is not covered by the signature: anyone can make new, still valid, byte-different copies
    // of the owner's self-signatures. Storing them lets a third party change (and grow) someone else's key.
    const key = await makeKey([{ name: 'Malleable', email: 'malleable@example.org' }]);
    expect((await pushKeys(url, key.armored)).json.inserted).toEqual([key.fingerprint]);
    const before = await getKey(key.fingerprint);
    const sigAt = key.packets.findIndex((p) => p.tag === Tag.userId) + 1;
    // One private-use subpacket (length 151: type 100 and 150 bytes), different in each copy.
    const variants = [1, 2, 3].map((i) => packet(Tag.signature, padUnhashed(key.packets[sigAt]!.body, bytes([151, 100, i], seededBytes(8, 149)))));
    const reply = await addPackets([...key.packets.slice(0, sigAt + 1), ...variants, ...key.packets.slice(sigAt + 1)]);
    assertAnswer({ name: 'self-signature with padded unhashed area', send: async () => reply, allow: [200, 400, 422] }, reply);
    const after = await getKey(key.fingerprint);
    expect(after.text, `the stored key changed (${summarize(reply)})`).toBe(before.text);
    await assertAlive('padded unhashed area');
  });

  it('a DSA key with 8192-bit p and q does not hold the server (one signature check must stay cheap)', async () => {
    // Real DSA has q of 160-256 bits; a q of 8192 bits makes the self-signature check two 8192-bit
    // exponentiations (seconds, on the event loop); at the 64 KB packet limit it would be hours.
    const packets = oversizedDsaKey(8192, 17);
    let maxGap = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 20);
    const started = performance.now();
    const reply = await addPackets(packets);
    const elapsed = performance.now() - started;
    clearInterval(ticker);
    assertAnswer({ name: 'oversized DSA key', send: async () => reply, allow: [400, 422] }, reply);
    expect(
      maxGap,
      `the event loop (server and test share it) was blocked for ${Math.round(maxGap)} ms by one push of ${writePackets(packets).length} bytes (answered in ${Math.round(elapsed)} ms: ${summarize(reply)})`,
    ).toBeLessThan(500);
    await assertAlive('oversized DSA key');
  });

  // ---- GET /pks/lookup ----------------------------------------------------------------------------------------
  const lookupCases: Case[] = [];
  const lookupCase = (
    name: string,
    query: string | (() => string),
    allow: number[],
    headers: Record<string, string> = {},
    check?: Case['check'],
    budgetMs?: number,
  ) => {
    const shown = typeof query === 'string' ? query : name;
    lookupCases.push({
      name: typeof query === 'string' ? `${name} [${shown.length > 120 ? shown.slice(0, 120) + '…' : shown}]` : name,
      send: () => get(typeof query === 'string' ? query : query(), headers),
      allow,
      browser: (headers['accept'] ?? '').includes('text/html'),
      ...(check ? { check } : {}),
      ...(budgetMs !== undefined ? { budgetMs } : {}),
    });
  };
  // Pages must escape; a JSON or plain-text answer is not rendered by browsers.
  const noHtml: Case['check'] = (r) => {
    if (r.type.startsWith('text/html')) expect(withoutOwnMarkup(r.text)).not.toMatch(HTML_INJECTION);
  };
  const OPS = ['get', 'index', 'vindex'] as const;

  lookupCase('no parameters', '', [400]);
  lookupCase('missing op', 'search=known', [400]);
  lookupCase('empty op', 'op=&search=known', [400]);
  lookupCase('unknown op', 'op=frobnicate&search=known', [501]);
  lookupCase('unknown op with HTML in it', 'op=%3Cscript%3Ealert(1)%3C/script%3E&search=x', [400, 501], { accept: 'text/html' }, noHtml);
  lookupCase('op of 5,000 characters', `op=${'x'.repeat(5000)}&search=x`, [400, 501]);
  lookupCase('op with a NUL', 'op=get%00&search=known', [400, 501]);
  for (const op of OPS) {
    lookupCase(`op=${op} without search`, `op=${op}`, [400]);
    lookupCase(`op=${op} with an empty search`, `op=${op}&search=`, [400]);
    lookupCase(`op=${op} with a blank search`, `op=${op}&search=%20%09`, [400]);
    // Invalid UTF-8 decodes to U+FFFD, which a stored user ID of invalid UTF-8 holds too (200 is fine).
    for (const escape of ['%C3%28', '%FF', '%C0%80', '%ED%A0%80', '%F4%90%80%80', '%E0%A4%A', '%', '%ZZ', '%FF%FE%FD']) {
      lookupCase(`op=${op} search with invalid UTF-8 / bad escape ${escape}`, `op=${op}&options=mr&search=${escape}`, [200, 400, 404]);
      lookupCase(
        `op=${op} exact=on search with invalid UTF-8 / bad escape ${escape}`,
        `op=${op}&options=mr&exact=on&search=${escape}`,
        [200, 400, 404],
      );
    }
    // A NUL matches nothing (stored user IDs have it replaced): 400 or 404.
    for (const escape of ['%00', 'known%00', 'known1%40example.org%00', '0x%00', '%00%00%00%00%00%00%00%00', 'a%00b%20c']) {
      lookupCase(`op=${op} search with a NUL ${escape}`, `op=${op}&options=mr&search=${escape}`, [400, 404]);
      lookupCase(`op=${op} exact=on search with a NUL ${escape}`, `op=${op}&options=mr&exact=on&search=${escape}`, [400, 404]);
    }
    lookupCase(`op=${op} search of 10,000 characters`, `op=${op}&options=mr&search=${'a'.repeat(10_000)}`, [400, 404, 414]);
    lookupCase(`op=${op} search of 10,000 hex digits after 0x`, `op=${op}&options=mr&search=0x${'A'.repeat(10_000)}`, [400, 404, 414]);
    lookupCase(
      `op=${op} search of 2,000 words (under the length limit)`,
      `op=${op}&options=mr&search=${'a%20'.repeat(2000)}`,
      [200, 400, 404],
      {},
      undefined,
      2000,
    );
    lookupCase(`op=${op} search of 4,096 "%" (one LIKE word)`, `op=${op}&options=mr&search=${'%25'.repeat(4096)}`, [400, 404]);
    for (const sqli of [
      "' OR 1=1 --",
      "%' OR '1'='1",
      '\\',
      '\\\\',
      '%_%',
      '%',
      '_',
      '*',
      '.*',
      "'; DROP TABLE keys; --",
      '" OR ""="',
      '1) OR (1=1',
      "known' --",
      "known1@example.org' OR '1'='1",
      '$1',
      '?',
    ]) {
      const q = encodeURIComponent(sqli);
      // Word searches split on punctuation: "known' --" is the word "known" and "$1" the word "1" (B's alert(1)),
      // which the known keys hold as whole words; text without letters or digits is refused (400).
      const matchesKnown = sqli === "known' --" || sqli === '$1';
      lookupCase(`op=${op} SQL-ish search ${JSON.stringify(sqli)}`, `op=${op}&options=mr&search=${q}`, matchesKnown ? [200] : [400, 404]);
      lookupCase(`op=${op} exact=on SQL-ish search ${JSON.stringify(sqli)}`, `op=${op}&options=mr&exact=on&search=${q}`, [400, 404]);
    }
    for (const hex of [
      '0x',
      '0x1',
      '0x123',
      '0x12345',
      '0x1234567',
      '0x' + 'A'.repeat(17),
      '0x' + 'A'.repeat(39),
      '0x' + 'A'.repeat(41),
      '0x' + 'A'.repeat(63),
      '0x' + 'A'.repeat(65),
      '0xZZZZZZZZ',
      '0x%201234',
      '0X%20%20',
      '0x0x12345678',
    ]) {
      lookupCase(`op=${op} odd hex ${hex.slice(0, 20)}`, `op=${op}&options=mr&search=${hex}`, [400, 404]);
    }
  }
  const injections = [
    '<script>alert(1)</script>',
    '"><script>alert(1)</script>',
    '</title><script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    'javascript:alert(1)',
    '<svg/onload=alert(1)>',
  ];
  for (const op of ['index', 'vindex'] as const) {
    for (const html of injections) {
      const q = encodeURIComponent(html);
      lookupCase(`op=${op} HTML injection (mr)`, `op=${op}&options=mr&search=${q}`, [200, 404], {}, (r) =>
        expect(r.text.startsWith('<')).toBe(false),
      );
      lookupCase(`op=${op} HTML injection (browser)`, `op=${op}&search=${q}`, [200, 404], { accept: 'text/html' }, noHtml);
      lookupCase(`op=${op} HTML injection (browser, exact=on)`, `op=${op}&exact=on&search=${q}`, [200, 404], { accept: 'text/html' }, noHtml);
    }
    // These match B, whose user ID holds the script: the page must show both search and user ID escaped.
    const shownEscaped: Case['check'] = (r) => {
      expect(r.type).toMatch(/^text\/html/);
      expect(r.text).not.toMatch(HTML_INJECTION);
      expect(r.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    };
    lookupCase(
      `op=${op} search matching the known key with a script in its user ID (browser)`,
      `op=${op}&search=${encodeURIComponent('<script>alert(1)</script>')}`,
      [200],
      { accept: 'text/html' },
      shownEscaped,
    );
    lookupCase(
      `op=${op} the known key with a script in its user ID, by e-mail (browser)`,
      `op=${op}&search=known2%40example.org`,
      [200],
      { accept: 'text/html' },
      shownEscaped,
    );
    // A is certified by B: vindex names B (script and all) as the issuer.
    lookupCase(
      `op=${op} the key certified by the one with a script (browser)`,
      `op=${op}&fingerprint=on&search=known1%40example.org`,
      [200],
      { accept: 'text/html' },
      op === 'vindex' ? shownEscaped : noHtml,
    );
    lookupCase(`op=${op} the known keys (mr)`, `op=${op}&options=mr&search=known`, [200], {}, (r) => {
      expect(r.text.startsWith('info:1:2\n'), r.text).toBe(true);
      for (const line of r.text.split('\n').filter((l) => l !== '')) expect(line).toMatch(/^(info|pub|uid):[\x20-\x7e]*$/);
    });
  }
  lookupCase(
    'op=get of the key with a script in its user ID (browser)',
    'op=get&search=known2%40example.org',
    [200],
    { accept: 'text/html' },
    noHtml,
  );
  lookupCase(
    'op=stats (browser) with junk parameters',
    'op=stats&search=%3Cscript%3E&x-pagesize=abc&x-pagetoken=%3Cscript%3E',
    [200, 400],
    { accept: 'text/html' },
    noHtml,
  );

  // Repeated parameters.
  lookupCase('search=a&search=b', 'op=get&options=mr&search=nothing-matches-a&search=b', [400, 404]);
  lookupCase('op=get&op=index', 'op=get&op=index&options=mr&search=nothing-matches-this', [400, 404]);
  lookupCase('op=index&op=get on a known key', 'op=index&op=get&options=mr&search=known1%40example.org', [200, 400]);
  lookupCase('a known fingerprint then search=junk', () => `op=get&options=mr&search=0x${a.fingerprint}&search=junk`, [200, 400, 404]);
  lookupCase('search repeated 1,000 times', `op=index&options=mr&${'search=known&'.repeat(1000)}`, [200, 400, 404]);
  lookupCase('options repeated 1,000 times', `op=index&search=known&${'options=mr&'.repeat(1000)}`, [200, 400]);
  lookupCase('exact repeated with junk', 'op=get&options=mr&search=known&exact=on&exact=junk&exact=', [200, 400, 404]);
  lookupCase(
    '10,000 distinct junk parameters',
    `op=index&options=mr&search=known&${Array.from({ length: 1500 }, (_, i) => `p${i}=1`).join('&')}`,
    [200, 400],
  );
  lookupCase('parameter names with brackets (qs-style objects)', 'op[]=get&search[a]=b&op=index&search=known', [200, 400, 404]);

  // Pagination parameters.
  for (const size of ['0', '-1', '1e9', 'abc', '1.5', '', '%20', '0x10', 'Infinity', 'NaN', '100001', '99999999999999999999', '%00', '1%00', '+5']) {
    lookupCase(`x-pagesize=${size}`, `op=index&options=mr&search=known&x-pagesize=${size}`, [200, 400]);
  }
  for (const token of [
    'garbage',
    '!!!',
    '%00',
    '..%2F..%2Fetc%2Fpasswd',
    Buffer.from('o1:-1').toString('base64url'),
    Buffer.from('o1:99999999').toString('base64url'),
    Buffer.from('o1:1000000').toString('base64url'),
    Buffer.from("o1:0' OR 1=1").toString('base64url'),
    'A'.repeat(5000),
    '%3Cscript%3E',
  ]) {
    lookupCase(`x-pagetoken=${token.slice(0, 30)}`, `op=index&options=mr&search=known&x-pagesize=1&x-pagetoken=${token}`, [200, 400]);
    lookupCase(
      `x-pagetoken=${token.slice(0, 30)} (browser)`,
      `op=index&search=known&x-pagesize=1&x-pagetoken=${token}`,
      [200, 400],
      { accept: 'text/html' },
      noHtml,
    );
  }
  for (const exact of ['on%00', 'ON', '1', 'yes', '%3Cscript%3E', 'on&exact=on']) {
    lookupCase(`exact=${exact} with junk search`, `op=get&options=mr&exact=${exact}&search=%3Cscript%3E%00`, [400, 404]);
  }
  lookupCase('fingerprint=junk', 'op=index&options=mr&fingerprint=%FF%00&search=known', [200, 400]);
  lookupCase('options of junk', `op=index&search=known&options=${encodeURIComponent(',,,mr,,<script>,' + 'x'.repeat(3000))}`, [200, 400]);

  it.each(lookupCases.map((c) => [c.name, c] as const))('GET /pks/lookup: %s', async (_name, c) => {
    await runCase(c);
  });

  // ---- other paths and the HTTP layer ------------------------------------------------------------------------
  const otherCases: Case[] = [
    { name: 'GET /pks/add', send: () => send(`${url}/pks/add`), allow: [404, 405] },
    { name: 'GET /pks/add?keytext=…', send: () => send(`${url}/pks/add?keytext=${encodeURIComponent(aArmor)}`), allow: [404, 405] },
    { name: 'PUT /pks/lookup', send: () => send(`${url}/pks/lookup?op=get&search=known`, { method: 'PUT', body: 'x' }), allow: [404, 405] },
    { name: 'DELETE /pks/lookup', send: () => send(`${url}/pks/lookup?op=get&search=0xFPR`, { method: 'DELETE' }), allow: [404, 405] },
    { name: 'PATCH /pks/add', send: () => send(`${url}/pks/add`, { method: 'PATCH', body: 'keytext=x' }), allow: [404, 405] },
    { name: 'DELETE /pks/add', send: () => send(`${url}/pks/add`, { method: 'DELETE' }), allow: [404, 405] },
    { name: 'OPTIONS /pks/lookup', send: () => send(`${url}/pks/lookup`, { method: 'OPTIONS' }), allow: [200, 204, 404, 405] },
    {
      name: 'HEAD /pks/lookup of a missing key',
      send: () => send(`${url}/pks/lookup?op=get&search=0x${'AB'.repeat(20)}`, { method: 'HEAD' }),
      allow: [404],
      bodyless: true,
    },
    { name: 'POST /pks/lookup', send: () => send(`${url}/pks/lookup?op=get&search=known`, { method: 'POST', body: 'x' }), allow: [404, 405] },
    { name: 'GET /pks/lookup/', send: () => send(`${url}/pks/lookup/?op=get&search=nothing-matches`), allow: [404] },
    { name: 'GET /pks/LOOKUP', send: () => send(`${url}/pks/LOOKUP?op=get&search=nothing-matches`), allow: [400, 404] },
    { name: 'GET /pks/lookup%00', send: () => send(`${url}/pks/lookup%00?op=get&search=known`), allow: [400, 404] },
    {
      name: 'GET /pks/lookup%ZZ',
      send: () => rawHttp(port, 'GET /pks/lookup%ZZ?op=get&search=known HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      allow: [400, 404],
    },
    {
      name: 'GET /pks/%2e%2e/version',
      send: () => rawHttp(port, 'GET /pks/%2e%2e/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      allow: [400, 404],
    },
    {
      name: 'GET /../../etc/passwd',
      send: () => rawHttp(port, 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      allow: [400, 404],
    },
    {
      name: 'GET //pks//lookup',
      send: () => rawHttp(port, 'GET //pks//lookup?op=get&search=known HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      allow: [400, 404],
    },
    {
      name: 'GET with an absolute-form URL',
      send: () => rawHttp(port, 'GET http://evil.example/pks/lookup?op=get&search=nothing-matches HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      allow: [400, 404],
    },
    {
      name: 'GET /pks/lookup with a raw UTF-8 / latin-1 request target',
      send: () => rawHttp(port, bytes('GET /pks/lookup?op=get&search=', [0xff, 0xc3, 0x28], ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')),
      allow: [400, 404],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'GET / with a hostile Host header',
      send: () => rawHttp(port, 'GET / HTTP/1.1\r\nHost: "><script>alert(1)</script>\r\nConnection: close\r\n\r\n'),
      allow: [200, 400],
      nodeAnswerOk: true,
      check: noHtml,
    },
    {
      name: 'GET / with a hostile X-Forwarded-Host',
      send: () => send(`${url}/`, { headers: { 'x-forwarded-host': '"><script>alert(1)</script>' } }),
      allow: [200],
      check: noHtml,
    },
    {
      name: 'GET /assets/config/config.prod.json with a hostile Host header',
      send: () => rawHttp(port, 'GET /assets/config/config.prod.json HTTP/1.1\r\nHost: evil.example"><x\r\nConnection: close\r\n\r\n'),
      allow: [200, 400],
      nodeAnswerOk: true,
    },
    {
      name: 'an unknown method',
      send: () => rawHttp(port, 'FROBNICATE /pks/lookup HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      allow: [400, 404, 405, 501],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'a request line of garbage',
      send: () => rawHttp(port, '\u0000\u0001\u0002 garbage\r\n\r\n'),
      allow: [400],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'HTTP/0.9-style request',
      send: () => rawHttp(port, 'GET /pks/health\r\n\r\n'),
      allow: [200, 400, 505],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'HTTP/3.0 version',
      send: () => rawHttp(port, 'GET /pks/health HTTP/3.0\r\nHost: x\r\n\r\n'),
      allow: [200, 400, 505],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'a header with a NUL in its value',
      send: () => rawHttp(port, 'GET /pks/health HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\nConnection: close\r\n\r\n'),
      allow: [200, 400],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'an X-Request-Id of 10,000 characters and HTML',
      send: () => send(`${url}/pks/lookup?op=get&search=nothing-matches`, { headers: { 'x-request-id': '<script>' + 'r'.repeat(10_000) } }),
      allow: [404],
    },
    {
      name: 'Authorization headers of junk',
      send: () => send(`${url}/pks/lookup?op=get&search=nothing-matches`, { headers: { authorization: 'Basic %%%%' + 'x'.repeat(5000) } }),
      allow: [400, 401, 404],
    },
    {
      name: 'Authorization: Bearer with a 10 KB token on /pks/add',
      send: () =>
        add({ headers: { authorization: `Bearer ${'t'.repeat(10_000)}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'keytext=x' }),
      allow: [400, 401],
    },
    {
      name: 'Accept header of 10 KB',
      send: () => send(`${url}/pks/lookup?op=index&search=known`, { headers: { accept: 'text/html,'.repeat(1000) } }),
      allow: [200],
      check: noHtml,
    },
    {
      name: 'a query of 64 KB',
      send: () => rawHttp(port, `GET /pks/lookup?op=index&search=${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      allow: [400, 414, 431],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'a query of 64 KB (fetch)',
      send: () => send(`${url}/pks/lookup?op=get&search=${'b'.repeat(64 * 1024)}`),
      allow: [400, 414, 431],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'a header flood: 5,000 headers',
      send: () =>
        rawHttp(
          port,
          `GET /pks/health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 5000 }, (_, i) => `X-H${i}: ${i}\r\n`).join('')}Connection: close\r\n\r\n`,
        ),
      allow: [200, 400, 431],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'a header flood under the size limit: 1,500 tiny headers',
      send: () =>
        rawHttp(
          port,
          `GET /pks/health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 1500 }, (_, i) => `a${i}:1\r\n`).join('')}Connection: close\r\n\r\n`,
        ),
      allow: [200, 431],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'one header of 100 KB',
      send: () => rawHttp(port, `GET /pks/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'v'.repeat(100 * 1024)}\r\nConnection: close\r\n\r\n`),
      allow: [400, 431],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: '200 repeated Content-Type headers on /pks/add',
      send: () =>
        rawHttp(
          port,
          `POST /pks/add HTTP/1.1\r\nHost: x\r\n${'Content-Type: application/json\r\n'.repeat(100)}${'Content-Type: application/x-www-form-urlencoded\r\n'.repeat(100)}Content-Length: 9\r\nConnection: close\r\n\r\nkeytext=x`,
        ),
      allow: [400, 415],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'two Content-Length headers that disagree',
      send: () =>
        rawHttp(
          port,
          'POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\nContent-Length: 3\r\nConnection: close\r\n\r\nkeytext=x',
        ),
      allow: [400],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'a negative Content-Length',
      send: () =>
        rawHttp(
          port,
          'POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: -1\r\nConnection: close\r\n\r\nkeytext=x',
        ),
      allow: [400],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'a Content-Length of 10^30',
      send: () =>
        rawHttp(
          port,
          `POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1${'0'.repeat(30)}\r\nConnection: close\r\n\r\nkeytext=x`,
        ),
      allow: [400, 413],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'a chunked body with a bad chunk size',
      send: () =>
        rawHttp(
          port,
          'POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZZZ\r\nkeytext=x\r\n0\r\n\r\n',
        ),
      allow: [400],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: 'a chunked body with a chunk size of 2^64',
      send: () =>
        rawHttp(
          port,
          'POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10000000000000000\r\nkeytext=x\r\n0\r\n\r\n',
        ),
      allow: [400, 413],
      nodeAnswerOk: true,
      connectionErrorOk: true,
    },
    {
      name: '50 pipelined requests on one connection',
      send: () =>
        rawHttp(
          port,
          'GET /pks/lookup?op=get&search=nothing-matches HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(49) +
            'GET /pks/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
          { timeoutMs: 15_000 },
        ),
      allow: [404],
      check: (r) => {
        const statuses = [...r.raw!.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
        expect(statuses).toEqual([...Array<string>(49).fill('404'), '200']);
      },
    },
  ];

  it.each(otherCases.map((c) => [c.name, c] as const))('HTTP: %s', async (_name, c) => {
    await runCase(c);
  });

  it('after the whole corpus: the server is up and both known keys are byte-identical', async () => {
    await assertAlive('the whole corpus');
    for (const k of [a, b]) {
      const res = await getKey(k.fingerprint);
      expect(res.text).toBe(snapshot.get(k.fingerprint));
    }
    const index = await get('op=index&options=mr&search=known');
    expect(index.status).toBe(200);
    expect(index.text.startsWith('info:1:2\n')).toBe(true);
    // No request of the corpus made the server log an unhandled error for a request it could answer.
  });
});

/** The v4 fingerprint of a key-packet body when computable, else zeros (for junk signatures' issuer fields). */
function fingerprintOrZero(body: Uint8Array): string {
  try {
    return fingerprintOf(body).slice(0, 40);
  } catch {
    return '00'.repeat(20);
  }
}
