// The HKP handlers (POST /pks/add, GET /pks/lookup) and the VKS routes in a Koa app with the app's error handler,
// over a small hand-written service each: a request is parsed, makes one service call, and its answer is
// formatted; bad input is answered 4xx without a call; a service's AppError keeps its status.
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { addSummaryJson, addSummaryLine } from '../../src/formats/addSummary.js';
import { decodeArmor } from '../../src/formats/armor.js';
import { errorHandler } from '../../src/http/app.js';
import { addHandler } from '../../src/http/hkp/add.js';
import { lookupHandler } from '../../src/http/hkp/lookup.js';
import { LookupCache } from '../../src/http/hkp/lookupCache.js';
import { registerVks, type VksDependencies } from '../../src/http/vks/routes.js';
import type { AccessService } from '../../src/services/accessService.js';
import type { KeySubmission, SubmitContext } from '../../src/services/keyService.js';
import type { IndexResult, KeyLookups, PageRequest } from '../../src/services/lookupService.js';
import type { FoundKey, IndexRow, KeyQuery, SubmitResult } from '../../src/vocabulary.js';
import { fetchText, lookup } from '../helpers/hkp.js';

const FINGERPRINT = 'A'.repeat(40);
const FOUND: FoundKey = { fingerprint: FINGERPRINT, version: 4, packets: new Uint8Array([0x99, 0x00, 0x01, 0x04]) };
const ROW: IndexRow = {
  fingerprint: FINGERPRINT,
  keyId: FINGERPRINT.slice(-16),
  version: 4,
  algorithm: 22,
  bits: 255,
  created: 1_600_000_000,
  expires: null,
  revoked: false,
  userIds: [{ text: 'Handler <handler@fake.example>', created: 1_600_000_000, expires: null, revoked: false }],
  subkeys: [],
  signatureFacts: { userIds: [[]], subkeys: [] },
};
const SUBMITTED: SubmitResult = { inserted: [FINGERPRINT], updated: [], unchanged: [], rejected: [], dropped: [] };
const MAX_BODY_BYTES = 1024;

/** What the fakes were asked, and what they answer next (a value, or an error to throw). */
const calls: unknown[][] = [];
let answer: unknown;

function reply<T>(...args: unknown[]): Promise<T> {
  calls.push(args);
  return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer as T);
}

const lookups: KeyLookups = {
  get: (query: KeyQuery) => reply<FoundKey[]>('get', query),
  index: (query: KeyQuery, page: PageRequest, verbose: boolean) => reply<IndexResult>('index', query, page, verbose),
  stats: () => reply('stats'),
};
const keys: KeySubmission = { submit: (input: string | Uint8Array, context: SubmitContext) => reply<SubmitResult>('submit', input, context) };
const vks: Pick<VksDependencies, 'certs' | 'vks'> = {
  certs: { certs: (query, versions) => reply('certs', query, versions), keyForEmail: (email) => reply('keyForEmail', email) },
  vks: {
    upload: (keytext, request) => reply('upload', keytext, request),
    requestVerify: (token, addresses) => reply('requestVerify', token, addresses),
  },
};

describe('the HKP handlers over fake services', () => {
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    const app = new Koa();
    app.use(errorHandler(pino({ level: 'silent' }), () => false));
    const router = new Router();
    router.post('/pks/add', addHandler(keys, MAX_BODY_BYTES));
    // Nothing cached: each request reaches the service.
    const cache = new LookupCache({ maxBytes: 0, maxAgeMs: 0, listening: true });
    router.get(
      '/pks/lookup',
      lookupHandler(lookups, cache, {
        directory: { statistics: () => Promise.reject(new Error('no page here')) },
        site: () => ({ name: 'test', baseUrl: 'http://test.example', pushPolicy: 'open', version: 'test' }),
      }),
    );
    registerVks(router, {
      ...vks,
      maxBodyBytes: MAX_BODY_BYTES,
      lookupAccess: (_ctx, next) => next(),
      // Never asked: both policies are open and no request here carries a token.
      access: { pushPolicy: 'open', lookupPolicy: 'open', publicUrl: undefined, tokens: null as unknown as AccessService },
    });
    app.use(router.routes());
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });
  beforeEach(() => {
    calls.splice(0);
    answer = undefined;
  });

  const push = (body: string, query = '', type = 'application/x-www-form-urlencoded') =>
    fetchText(`${url}/pks/add${query}`, { method: 'POST', headers: { 'content-type': type }, body });

  it('op=get: the search parsed into one query, the keys found armored', async () => {
    answer = [FOUND];
    const res = await lookup(url, { op: 'get', options: 'mr', search: `0x${FINGERPRINT.toLowerCase()}` });
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/pgp-keys');
    expect([...decodeArmor(res.text).blocks[0]!.data]).toEqual([...FOUND.packets]);
    expect(calls).toEqual([['get', { kind: 'fingerprint', fingerprint: FINGERPRINT }]]);
  });

  it('op=index: the page asked for passed on, the machine-readable listing with its total and next page', async () => {
    answer = { keys: [ROW], total: 3, nextPageToken: 'next' } satisfies IndexResult;
    const res = await lookup(url, { op: 'index', options: 'mr', search: 'handler@fake.example', 'x-pagesize': '1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-hkp-results-count')).toBe('3');
    expect(res.headers.get('x-hkp-next-page-token')).toBe('next');
    expect(res.text.split('\n')[0]).toBe('info:1:1');
    expect(res.text).toContain(`pub:${FINGERPRINT}:22:255:1600000000::`);
    expect(calls).toEqual([['index', { kind: 'identity', identity: 'handler@fake.example' }, { pageSize: 1, pageToken: undefined }, false]]);
  });

  it('answers a malformed lookup 400 without asking the service', async () => {
    const malformed: Record<string, string>[] = [
      { op: 'get' },
      { op: 'get', search: '0x1234' },
      { op: 'get', search: '   ' },
      { op: 'get', search: 'a\u0001b' },
      { op: 'index', search: '!!!' },
      { op: 'index', search: 'x', 'x-pagesize': '0' },
      { search: 'x' },
    ];
    for (const params of malformed) {
      const res = await lookup(url, params);
      expect(res.status, JSON.stringify(params)).toBe(400);
      expect(res.json.error.reason).toMatch(/^(invalid_search|bad_request)$/);
    }
    expect(calls).toEqual([]);
  });

  it("passes on the status of the service's AppError (404 when nothing matches)", async () => {
    answer = new AppError(404, 'not_found', 'no key matches the search');
    const res = await lookup(url, { op: 'get', search: 'nobody@fake.example' });
    expect(res.status).toBe(404);
    expect(res.json.error.reason).toBe('not_found');
    expect(calls).toHaveLength(1);
  });

  it('POST /pks/add: keytext handed to one submit, its outcome as a line or (options=mr) as JSON', async () => {
    answer = SUBMITTED;
    const line = await push(new URLSearchParams({ keytext: 'ARMORED KEY' }).toString());
    expect(line.status).toBe(200);
    expect(line.type).toBe('text/plain; charset=utf-8');
    expect(line.text).toBe(addSummaryLine(SUBMITTED));
    const json = await push(new URLSearchParams({ keytext: 'ARMORED KEY' }).toString(), '?options=mr');
    expect(json.type).toBe('application/json; charset=utf-8');
    expect(json.text).toBe(addSummaryJson(SUBMITTED));
    expect(calls).toEqual([
      ['submit', 'ARMORED KEY', expect.objectContaining({ source: 'http', pushPolicy: 'open', token: null })],
      ['submit', 'ARMORED KEY', expect.objectContaining({ source: 'http' })],
    ]);
  });

  it('refuses a push without keytext 400, of another content type 415 and over the size limit 413, without a submit', async () => {
    expect((await push('other=field')).status).toBe(400);
    expect((await push('')).status).toBe(400);
    expect((await push('keytext=x', '', 'image/png')).status).toBe(415);
    const tooLarge = await push(new URLSearchParams({ keytext: 'x'.repeat(MAX_BODY_BYTES + 1) }).toString());
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.error.reason).toBe('too_large');
    expect(calls).toEqual([]);
  });

  it('passes on the status of a refused submission (422: no usable key)', async () => {
    answer = new AppError(422, 'unusable_key', 'no usable key: key has no valid user ID');
    const res = await push('keytext=junk');
    expect(res.status).toBe(422);
    expect(res.json.error.reason).toBe('unusable_key');
    expect(calls).toHaveLength(1);
  });

  it('VKS by-fingerprint and by-email: one lookup, the first key armored', async () => {
    answer = [FOUND];
    const byFingerprint = await fetchText(`${url}/vks/v1/by-fingerprint/${FINGERPRINT}`);
    expect(byFingerprint.status).toBe(200);
    expect([...decodeArmor(byFingerprint.text).blocks[0]!.data]).toEqual([...FOUND.packets]);
    answer = FOUND;
    expect((await fetchText(`${url}/vks/v1/by-email/handler@fake.example`)).status).toBe(200);
    expect(calls).toEqual([
      ['certs', { kind: 'fingerprint', fingerprint: FINGERPRINT }, [4, 6]],
      ['keyForEmail', 'handler@fake.example'],
    ]);
  });

  it('VKS refuses a malformed fingerprint, key ID or address 400 in plain text, without a lookup', async () => {
    for (const path of [`by-fingerprint/${FINGERPRINT.toLowerCase()}`, 'by-fingerprint/0x1234', 'by-keyid/ABCD', 'by-email/not-an-address']) {
      const res = await fetchText(`${url}/vks/v1/${path}`);
      expect(res.status, path).toBe(400);
      expect(res.type, path).toMatch(/^text\/plain/);
    }
    expect(calls).toEqual([]);
  });

  it('VKS upload: the JSON keytext handed to the service, its status answered as Hagrid does; bad bodies 4xx', async () => {
    const post = (body: string, type = 'application/json') =>
      fetchText(`${url}/vks/v1/upload`, { method: 'POST', headers: { 'content-type': type }, body });
    expect((await post('{"keytext": ')).status).toBe(400);
    expect((await post('{"keytext": ""}')).status).toBe(400);
    expect((await post('{"keytext": "not base64!"}')).status).toBe(400);
    expect((await post('keytext=x', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect(calls).toEqual([]);

    answer = { token: FINGERPRINT, keyFingerprint: FINGERPRINT, status: { 'handler@fake.example': 'published' } };
    const res = await post(JSON.stringify({ keytext: '-----BEGIN PGP PUBLIC KEY BLOCK-----' }));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ token: FINGERPRINT, key_fpr: FINGERPRINT, status: { 'handler@fake.example': 'published' } });
    expect(calls).toEqual([['upload', '-----BEGIN PGP PUBLIC KEY BLOCK-----', { remoteAddress: expect.any(String), accessToken: null }]]);
  });
});
