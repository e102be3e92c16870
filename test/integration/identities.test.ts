// Account names as identities and tokens of the site's identity provider, against the real server on every backend:
// an HPC centre's keys (`Name (comment) <account>`), local tokens for an account, JWTs checked against a JWKS served
// on loopback by the test, what is refused (401/403), searches by account name, and logs free of tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, revokeToken } from '../../src/cli/token.js';
import { listAudit } from '../../src/cli/audit.js';
import { fetchText, lookup } from '../helpers/hkp.js';
import {
  AUDIENCE,
  ISSUER,
  hmacWithPublicKey,
  makeSigningKey,
  serveJwks,
  signToken,
  unsignedToken,
  type JwksServer,
  type SigningKey,
} from '../helpers/identityProvider.js';
import { makeKey } from '../helpers/keys.js';
import { backends, capturingLogger, startTestServer, type TestServer } from '../helpers/server.js';

async function push(baseUrl: string, keytext: string, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}/pks/add?options=mr`, { method: 'POST', headers, body: new URLSearchParams({ keytext }).toString() });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text), headers: res.headers };
}

const get = (url: string, token?: string) => fetchText(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

/** A key whose only user ID is exactly this text (openpgp.js will not put a non-address between < and >). */
const keyWithUserId = (userId: string) => makeKey([{ name: userId }]);

describe.each(backends)('identities and identity-provider tokens on %s', (backend) => {
  let jwks: JwksServer;
  let provider: SigningKey;
  let server: TestServer;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    provider = await makeSigningKey('site-key-1');
    jwks = await serveJwks([provider]);
    server = await startTestServer(
      backend,
      {
        PUSH_POLICY: 'token',
        TOKEN_JWKS_URL: jwks.url,
        TOKEN_ISSUER: ISSUER,
        TOKEN_AUDIENCE: `other-client, ${AUDIENCE}`,
        TOKEN_IDENTITY_CLAIM: 'preferred_username',
        TOKENS_HELP_TEXT: 'Run get_singularity_token on the login node.\n\nAsk <support> if it fails.',
        TOKENS_HELP_URL: 'https://portal.example/tokens?a=1&b=2',
      },
      capturingLogger(logLines),
    );
  });
  afterAll(async () => {
    await server?.close();
    await jwks?.close();
  });

  const jwtFor = (account: string, options: Parameters<typeof signToken>[1] = {}) =>
    signToken(provider, { ...options, claims: { preferred_username: account, ...(options.claims ?? {}) } });

  it('pushes an account-named key with a local token for that account; searches by account name find it', async () => {
    const token = await createToken(server.database.db, { identity: 'AAA12345xy' });
    const key = await keyWithUserId('山田太郎 (test key 03) <aaa12345xy>');
    const res = await push(server.url, key.armored, token.secret);
    expect(res.status, res.text).toBe(200);
    expect(res.json.inserted).toEqual([key.fingerprint]);

    // Singularity's `key search -l aaa12345xy` (words), gpg's exact lookups, and the bracketed form, in any case.
    const searches: Record<string, string>[] = [
      { op: 'index', options: 'mr', fingerprint: 'on', search: 'aaa12345xy', 'x-pagesize': '256' },
      { op: 'get', options: 'mr', search: 'AAA12345XY', exact: 'on' },
      { op: 'get', options: 'mr', search: '<aaa12345xy>' },
      { op: 'index', options: 'mr', search: '<AAA12345xy>', exact: 'on' },
    ];
    for (const params of searches) {
      const found = await lookup(server.url, params);
      expect(found.status, JSON.stringify(params)).toBe(200);
      if (params['op'] === 'index') expect(found.text).toContain(`pub:${key.fingerprint}:`);
    }
    // Whole words only, and the identity must match as a whole.
    expect((await lookup(server.url, { op: 'index', options: 'mr', search: 'aaa12345' })).status).toBe(404);
    expect((await lookup(server.url, { op: 'get', options: 'mr', search: '<aaa12345>' })).status).toBe(404);

    const [row] = await listAudit(server.database.db, { fingerprint: key.fingerprint });
    expect(row).toMatchObject({ outcome: 'inserted', tokenId: token.id, identity: 'aaa12345xy' });
  });

  it('pushes with a provider JWT for the account; the audit row names the identity, without a token id', async () => {
    const key = await keyWithUserId('Provider User (test key 04) <bbb67890zz>');
    const res = await push(server.url, key.armored, await jwtFor('BBB67890zz'));
    expect(res.status, res.text).toBe(200);
    expect(res.json.inserted).toEqual([key.fingerprint]);
    const [row] = await listAudit(server.database.db, { fingerprint: key.fingerprint });
    expect(row).toMatchObject({ outcome: 'inserted', tokenId: null, identity: 'bbb67890zz' });
  });

  it('refuses with 401 and the JSON message Singularity shows: expired, wrong issuer or audience, no identity, alg none, HMAC, other key', async () => {
    const key = await keyWithUserId('Refused <ccc11111aa>');
    const other = await makeSigningKey('unknown-key');
    const impostor = await makeSigningKey('site-key-1');
    const claims = { preferred_username: 'ccc11111aa' };
    const cases: [string, string, RegExp][] = [
      ['expired', await jwtFor('ccc11111aa', { expiresIn: -3600 }), /the token has expired/],
      ['wrong issuer', await jwtFor('ccc11111aa', { issuer: 'https://other-idp.example' }), /issuer/],
      ['wrong audience', await jwtFor('ccc11111aa', { audience: 'not-keystore' }), /audience/],
      ['missing identity claim', await signToken(provider, { claims: { sub: '1234' } }), /no "preferred_username" claim/],
      ['alg none', unsignedToken(claims), /not signed with RS256, ES256, EdDSA/],
      ['HMAC keyed with the public key', await hmacWithPublicKey(provider, claims), /not signed with RS256, ES256, EdDSA/],
      ['signed by another key', await signToken(other, { claims }), /not signed by a key of this site's identity provider/],
      ["another key under the provider's kid", await signToken(impostor, { claims }), /signature does not verify/],
    ];
    for (const [label, token, why] of cases) {
      const res = await push(server.url, key.armored, token);
      expect(res.status, label).toBe(401);
      expect(res.headers.get('www-authenticate'), label).toMatch(/^Bearer/);
      expect(res.json.error.code, label).toBe(401);
      expect(res.json.error.message, label).toMatch(/^a valid access token is required to push keys: /);
      expect(res.json.error.message, label).toMatch(why);
    }
    expect((await lookup(server.url, { op: 'get', options: 'mr', search: '<ccc11111aa>' })).status).toBe(404);
  });

  it('refuses with 403 a valid token whose identity is not on the key, local or provider', async () => {
    const key = await keyWithUserId('Someone Else <ddd22222bb>');
    for (const token of [await jwtFor('eee33333cc'), (await createToken(server.database.db, { identity: 'eee33333cc' })).secret]) {
      const res = await push(server.url, key.armored, token);
      expect(res.status).toBe(403);
      expect(res.json.error).toEqual({
        code: 403,
        reason: 'key_not_owned',
        message: `key ${key.fingerprint} does not contain identity 'eee33333cc'`,
      });
    }
    // An account name in a key does not make an e-mail token's owner its owner, nor the other way round.
    const mail = await createToken(server.database.db, { email: 'ddd22222bb@example.org' });
    expect((await push(server.url, key.armored, mail.secret)).status).toBe(403);
  });

  it('keeps refusing a revoked local token while provider tokens work', async () => {
    const token = await createToken(server.database.db, { identity: 'fff44444dd' });
    await revokeToken(server.database.db, token.id);
    const key = await keyWithUserId('Revoked Holder <fff44444dd>');
    const res = await push(server.url, key.armored, token.secret);
    expect(res.status).toBe(401);
    expect(res.json.error.message).toMatch(/unknown or revoked/);
    expect((await push(server.url, key.armored, await jwtFor('fff44444dd'))).status).toBe(200);
  });

  it('answers the login checks (GET /v1/token-status, GET /) for provider tokens as for local ones', async () => {
    const valid = await jwtFor('ggg55555ee');
    const status = await get(`${server.url}/v1/token-status`, valid);
    expect(status.status).toBe(200);
    expect(status.json).toEqual({ data: { status: 'valid', source: 'provider', identity: 'ggg55555ee' } });
    const expired = await jwtFor('ggg55555ee', { expiresIn: -3600 });
    const refused = await get(`${server.url}/v1/token-status`, expired);
    expect(refused.status).toBe(404);
    expect(refused.json.error.message).toMatch(/^access token not valid: the token has expired/);
    expect((await get(`${server.url}/`, valid)).status).toBe(200);
    expect((await get(`${server.url}/`, expired)).status).toBe(401);
    const config = await get(`${server.url}/assets/config/config.prod.json`);
    expect(config.json).toEqual({ keystoreAPI: { uri: server.url }, tokenAPI: { uri: server.url } });
  });

  it("serves /auth/tokens with the administrator's text and link, escaped, and the provider named", async () => {
    const page = await get(`${server.url}/auth/tokens`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('<p>Run get_singularity_token on the login node.</p>');
    expect(page.text).toContain('<p>Ask &lt;support&gt; if it fails.</p>');
    expect(page.text).toContain('<a href="https://portal.example/tokens?a=1&amp;b=2">');
    expect(page.text).toContain(ISSUER);
    expect(page.text).toContain('singularity remote login --tokenfile');
  });

  it('never writes a token to the log', async () => {
    const jwt = await jwtFor('hhh66666ff');
    const local = await createToken(server.database.db, { identity: 'hhh66666ff' });
    await push(server.url, (await keyWithUserId('Logged <hhh66666ff>')).armored, jwt);
    await get(`${server.url}/v1/token-status`, local.secret);
    await get(`${server.url}/v1/token-status`, `${jwt}x`);
    const log = JSON.stringify(logLines);
    expect(logLines.length).toBeGreaterThan(3);
    expect(log).not.toContain(jwt.split('.')[2]!);
    expect(log).not.toContain(local.secret);
  });

  describe('with LOOKUP_POLICY=token', () => {
    let private_: TestServer;
    beforeAll(async () => {
      private_ = await startTestServer(backend, {
        LOOKUP_POLICY: 'token',
        TOKEN_JWKS_URL: jwks.url,
        TOKEN_ISSUER: ISSUER,
        TOKEN_AUDIENCE: AUDIENCE,
        TOKEN_IDENTITY_CLAIM: 'preferred_username',
      });
    });
    afterAll(async () => {
      await private_?.close();
    });

    it('opens lookups to a provider token, refuses a bad one with 401', async () => {
      const url = `${private_.url}/pks/lookup?op=stats&options=mr`;
      expect((await get(url, await jwtFor('reader01'))).status).toBe(200);
      const refused = await get(url, await jwtFor('reader01', { audience: 'elsewhere' }));
      expect(refused.status).toBe(401);
      expect(refused.json.error.message).toMatch(/^a valid access token is required to look up keys: .*audience/);
    });
  });
});
