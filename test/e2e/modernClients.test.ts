// Real clients of the newer APIs against the running server: gpg's own WKD hash and URL (gpg-wks-client), and the
// npm clients @openpgp/hkp-client (legacy HKP, which must keep v6 keys away) and @openpgp/wkd-client.
import { createRequire } from 'node:module';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushKeys } from '../helpers/hkp.js';
import { rawRequest } from '../helpers/http.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { makeV6Key } from '../helpers/v6.js';
import { e2eBackend, runOk } from './helpers/run.js';

const require = createRequire(import.meta.url);
const HKP = require('@openpgp/hkp-client') as new (url: string) => {
  lookup(options: { keyId?: string; query?: string }): Promise<string | undefined>;
  upload(armored: string): Promise<Response>;
};
const WKD = require('@openpgp/wkd-client') as new () => {
  lookup(options: { email: string }): Promise<Uint8Array>;
  _fetch: (url: string) => Promise<Response>;
};

const WKS_CLIENT = '/usr/lib/gnupg/gpg-wks-client';
const ADDRESSES = ['Wanda.Maximoff@wkd.example', 'plain@wkd.example', 'Ünï.Code@wkd.example', 'six@wkd.example'];

describe(`newer-API clients against the server on ${e2eBackend}`, () => {
  let server: TestServer;
  let wanda: TestKey;
  let six: TestKey;

  beforeAll(async () => {
    server = await startTestServer(e2eBackend, { WKD_DOMAINS: 'wkd.example' });
    wanda = await makeKey([{ name: 'Wanda', email: ADDRESSES[0] }, { email: ADDRESSES[1] }, { email: ADDRESSES[2] }]);
    six = await makeV6Key([{ name: 'Six', email: ADDRESSES[3] }]);
    for (const key of [wanda, six]) expect((await pushKeys(server.url, key.armored)).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves each address at the URL gpg-wks-client prints, with the hash it prints', async () => {
    for (const address of ADDRESSES) {
      const hash = (await runOk(WKS_CLIENT, ['--print-wkd-hash', address])).stdout.split(' ')[0]!;
      expect(hash).toMatch(/^[a-z0-9]{32}$/);
      const url = new URL((await runOk(WKS_CLIENT, ['--print-wkd-url', address])).stdout.trim());
      expect(url.pathname.endsWith(`/hu/${hash}`)).toBe(true);
      const res = await rawRequest(server.url, url.pathname + url.search, { host: url.host });
      expect(res.status, address).toBe(200);
      const key = await openpgp.readKey({ binaryKey: res.body });
      expect(key.getFingerprint().toUpperCase()).toBe(address === ADDRESSES[3] ? six.fingerprint : wanda.fingerprint);
      expect(key.users.map((u) => u.userID?.email)).toEqual([address]);
      // Without ?l= the hash alone names the address.
      expect((await rawRequest(server.url, url.pathname, { host: url.host })).status).toBe(200);
    }
  });

  it('@openpgp/hkp-client uploads and looks up v4 keys on /pks/, and gets no v6 key there', async () => {
    const hkp = new HKP(server.url);
    const kate = await makeKey([{ name: 'Kate', email: 'kate@hkp.example' }]);
    expect((await hkp.upload(kate.armored)).status).toBe(200);
    for (const options of [{ keyId: kate.fingerprint.slice(-16) }, { query: 'kate@hkp.example' }]) {
      const armored = await hkp.lookup(options);
      expect((await openpgp.readKey({ armoredKey: armored! })).getFingerprint().toUpperCase()).toBe(kate.fingerprint);
    }
    expect(await hkp.lookup({ query: ADDRESSES[3]! })).toBeUndefined();
    expect(await hkp.lookup({ keyId: six.fingerprint.slice(0, 16) })).toBeUndefined();
  });

  it('@openpgp/wkd-client finds keys by the advanced form, and by the direct form when openpgpkey.<domain> does not resolve', async () => {
    // The client only speaks https:// (TLS is another issue's): its fetch is pointed at the server over plain HTTP on
    // loopback, keeping the URL's host as the Host header. URLs, hashes, order and status checks are the client's own.
    const asked: string[] = [];
    const transport =
      (advancedResolves: boolean) =>
      async (url: string): Promise<Response> => {
        const target = new URL(url);
        asked.push(`${target.host}${target.pathname}`);
        if (target.protocol !== 'https:') throw new Error(`the client asked for ${target.protocol}`);
        if (!advancedResolves && target.host.startsWith('openpgpkey.')) throw new TypeError('getaddrinfo ENOTFOUND');
        const res = await rawRequest(server.url, target.pathname + target.search, { host: target.host });
        return new Response(res.status === 204 ? null : new Uint8Array(res.body), { status: res.status });
      };
    for (const advancedResolves of [true, false]) {
      const wkd = new WKD();
      wkd._fetch = transport(advancedResolves);
      for (const address of [ADDRESSES[0]!, ADDRESSES[3]!]) {
        const bytes = await wkd.lookup({ email: address });
        const key = await openpgp.readKey({ binaryKey: bytes });
        expect(key.getFingerprint().toUpperCase()).toBe(address === ADDRESSES[3] ? six.fingerprint : wanda.fingerprint);
      }
      await expect(wkd.lookup({ email: 'nobody@wkd.example' })).rejects.toThrow(/lookup failed/);
    }
    expect(asked.some((a) => a.startsWith('openpgpkey.wkd.example/.well-known/openpgpkey/wkd.example/hu/'))).toBe(true);
    expect(asked.some((a) => a.startsWith('wkd.example/.well-known/openpgpkey/hu/'))).toBe(true);
  });
});
