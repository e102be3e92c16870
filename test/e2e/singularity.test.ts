// SingularityCE 4.x key commands against the real server, through a client that sends exactly the requests
// SingularityCE sends (helpers/singularityClient.ts): push, pull, verify's signer lookup, search, remote status.
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/cli/token.js';
import { AUDIENCE, ISSUER, makeSigningKey, serveJwks, signToken, type JwksServer, type SigningKey } from '../helpers/identityProvider.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { e2eBackend, tempDir } from './helpers/run.js';
import { SingularityClient, SingularityHttpError, goDate, readTokenFile, verifySearchOf } from './helpers/singularityClient.js';

interface Made {
  privateKey: openpgp.PrivateKey;
  publicKey: openpgp.PublicKey;
  fingerprint: string;
  armored: string;
}

async function makeKey(name: string, email: string, subkeys?: openpgp.SubkeyOptions[]): Promise<Made> {
  const { privateKey } = await openpgp.generateKey({
    type: 'curve25519',
    userIDs: [{ name, email }],
    format: 'object',
    ...(subkeys ? { subkeys } : {}),
  });
  const publicKey = privateKey.toPublic();
  return { privateKey, publicKey, fingerprint: publicKey.getFingerprint().toUpperCase(), armored: publicKey.armor() };
}

describe(`SingularityCE key commands against the server on ${e2eBackend}`, () => {
  let server: TestServer;
  let client: SingularityClient;
  let pushed: Made;

  beforeAll(async () => {
    server = await startTestServer(e2eBackend);
    client = new SingularityClient(server.url);
    pushed = await makeKey('Singularity Puller', 'sing.pull@example.org');
    expect((await client.push(pushed.armored, 'e2e-token')).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('key push', () => {
    it('pushes with a token, with a bare "Authorization: Bearer" and with no Authorization header: 200', async () => {
      const cases = [
        { label: 'token', token: 'secret-token-123', options: {} },
        { label: 'bare Bearer', token: undefined, options: {} },
        { label: 'no header', token: undefined, options: { omitAuthorization: true } },
      ];
      for (const c of cases) {
        const key = await makeKey(`Push ${c.label}`, `push.${c.label.replace(/ /g, '-')}@example.org`);
        expect(key.armored.endsWith('\n')).toBe(true); // the client strips it, as Singularity's armor has none
        const res = await client.push(key.armored, c.token, c.options);
        expect(res.status, c.label).toBe(200);
        expect(res.body.trim().split('\n'), c.label).toHaveLength(1); // Apptainer prints this body
        const back = await client.pull(key.fingerprint.toLowerCase());
        expect(back.getFingerprint().toUpperCase(), c.label).toBe(key.fingerprint);
      }
    });

    it('pushes the same key again: still 200', async () => {
      expect((await client.push(pushed.armored, 'e2e-token')).status).toBe(200);
    });
  });

  describe('key pull', () => {
    it('pulls by 8 and 40 lower-case hex digits: exactly one key, the right one', async () => {
      for (const hex of [pushed.fingerprint.slice(-8).toLowerCase(), pushed.fingerprint.toLowerCase()]) {
        const key = await client.pull(hex);
        expect(key.getFingerprint().toUpperCase(), hex).toBe(pushed.fingerprint);
        expect(key.isPrivate()).toBe(false);
        expect(key.getUserIDs()).toEqual(['Singularity Puller <sing.pull@example.org>']);
      }
    });

    it('fails for an unknown key with status 404 and the message from the JSON body', async () => {
      const unknown = randomBytes(20).toString('hex');
      const direct = await fetch(`${server.url}/pks/lookup?exact=on&op=get&search=0x${unknown}`);
      const body = (await direct.json()) as { error: { code: number; message: string } };
      expect(body.error.code).toBe(404);
      const error = await client.pull(unknown).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SingularityHttpError);
      expect((error as SingularityHttpError).status).toBe(404);
      expect((error as SingularityHttpError).serverMessage).toBe(body.error.message);
      expect((error as SingularityHttpError).serverMessage).not.toBe('');
    });
  });

  describe('verify: looking up the signer', () => {
    it('finds the whole key from a signing subkey ID whose leading zero was dropped', async () => {
      let made: Made | undefined;
      let subkeyId = '';
      for (let tries = 0; tries < 500 && !made; tries++) {
        const candidate = await makeKey('Signing Subkey', 'sing.subkey@example.org', [{ sign: true }]);
        const subkey = candidate.publicKey.getSubkeys()[0]!;
        const id = subkey.getKeyID().toHex();
        if (id.startsWith('0')) {
          made = candidate;
          subkeyId = id;
        }
      }
      expect(made, 'a key whose signing subkey ID starts with 0').toBeDefined();
      const signingKey = await made!.publicKey.getSigningKey();
      expect(signingKey.getKeyID().toHex()).toBe(subkeyId); // signatures name the subkey as issuer

      expect((await client.push(made!.armored)).status).toBe(200);
      const search = verifySearchOf(subkeyId);
      expect(search.length).toBeLessThan(18);
      expect(search).toBe(`0x${subkeyId.replace(/^0+/, '')}`);
      const keys = await client.verifyLookup(subkeyId);
      expect(keys).toHaveLength(1);
      expect(keys[0]!.getFingerprint().toUpperCase()).toBe(made!.fingerprint);
      expect(keys[0]!.getSubkeys().map((s) => s.getKeyID().toHex())).toContain(subkeyId);
      expect(keys[0]!.getUserIDs()).toEqual(['Signing Subkey <sing.subkey@example.org>']);
    });

    it('finds a key by its primary key ID with the leading zeros dropped too', async () => {
      // Whatever the ID, the dropped-zeros form of the primary long key ID must resolve.
      const id = pushed.publicKey.getKeyID().toHex();
      const keys = await client.verifyLookup(id);
      expect(keys.map((k) => k.getFingerprint().toUpperCase())).toEqual([pushed.fingerprint]);
    });
  });

  describe('remote status', () => {
    it('reads the version from GET /version', async () => {
      const version = await client.remoteStatus();
      expect(version).toEqual(expect.any(String));
      expect(version.length).toBeGreaterThan(0);
    });
  });

  describe('key search (op=index, strict SingularityCE parser)', () => {
    let searchable: Made;
    let plus: Made;
    let revoked: Made;
    let twinA: Made;
    let twinB: Made;

    beforeAll(async () => {
      searchable = await makeKey('Singularity Searcher', 'sing.search@example.org');
      plus = await makeKey('C++ Builder 100%', 'cpp.builder@example.org');
      const r = await makeKey('Revoked Singularity', 'sing.revoked@example.org');
      const { publicKey: revokedKey } = await openpgp.revokeKey({ key: r.privateKey, format: 'object' });
      revoked = { ...r, publicKey: revokedKey, armored: revokedKey.armor() };
      twinA = await makeKey('Twinsearch Alpha', 'twin.a@example.org');
      twinB = await makeKey('Twinsearch Beta', 'twin.b@example.org');
      for (const k of [searchable, plus, revoked, twinA, twinB]) expect((await client.push(k.armored, 'tok')).status).toBe(200);
    });

    function keyLine(output: string, fingerprint: string): string[] {
      const line = output.split('\n').find((l) => l.startsWith(fingerprint));
      expect(line, output).toBeDefined();
      return line!.split(/ {2,}/);
    }

    it('finds a key by e-mail', async () => {
      const found = await client.search('sing.search@example.org');
      expect(found.count, found.body).toBe(1);
      expect(found.body).toContain(`pub:${searchable.fingerprint}:`);
      expect(found.output).toContain('Singularity Searcher <sing.search@example.org>');
    });

    it('finds a key by name', async () => {
      const found = await client.search('Singularity Searcher');
      expect(found.count, found.body).toBe(1);
      expect(found.body).toContain(`pub:${searchable.fingerprint}:`);
    });

    it('finds a key by fingerprint (upper-case hex gets a 0x prefix)', async () => {
      const found = await client.search(searchable.fingerprint);
      expect(found.count, found.body).toBe(1);
      expect(found.body).toContain(`pub:${searchable.fingerprint}:`);
      // The short view shows the last 8 characters of the fingerprint, then the bits, then the user ID.
      const line = found.output.split('\n').find((l) => l.startsWith(searchable.fingerprint.slice(-8)));
      expect(line, found.output).toBeDefined();
      expect(line!.split(/ {2,}/)).toEqual([
        searchable.fingerprint.slice(-8),
        expect.stringMatching(/^25[56]$/),
        'Singularity Searcher <sing.search@example.org>',
      ]);
      expect(found.output.split('\n')[2]).toMatch(/^KEY ID +BITS +NAME\/EMAIL$/);
    });

    it('renders the -l columns', async () => {
      const found = await client.search('sing.search@example.org', true);
      const lines = found.output.split('\n');
      expect(lines[0]).toBe('Showing 1 results');
      expect(lines[2]!.split(/ {2,}/)).toEqual(['FINGERPRINT', 'ALGORITHM', 'BITS', 'CREATION DATE', 'EXPIRATION DATE', 'STATUS', 'NAME/EMAIL']);
      const created = Math.floor(searchable.publicKey.getCreationTime().getTime() / 1000);
      expect(keyLine(found.output, searchable.fingerprint)).toEqual([
        searchable.fingerprint,
        'unknown', // SingularityCE has no name for EdDSA (22)
        expect.stringMatching(/^25[56]$/),
        goDate(String(created)),
        '[ultimate]',
        '[enabled]',
        'Singularity Searcher <sing.search@example.org>',
      ]);
    });

    it('shows a revoked key as [revoked]', async () => {
      const found = await client.search('sing.revoked@example.org', true);
      expect(found.count, found.body).toBe(1);
      expect(keyLine(found.output, revoked.fingerprint)[5]).toBe('[revoked]');
    });

    it('shows "+" and "%" in a user ID as they are (the uid field is URL-decoded)', async () => {
      const found = await client.search('cpp.builder@example.org', true);
      expect(found.count, found.body).toBe(1);
      expect(keyLine(found.output, plus.fingerprint)[6]).toBe('C++ Builder 100% <cpp.builder@example.org>');
    });

    it('counts every key in info:1:N when several match', async () => {
      const found = await client.search('Twinsearch');
      expect(found.count, found.body).toBe(2);
      expect(found.body).toContain(`pub:${twinA.fingerprint}:`);
      expect(found.body).toContain(`pub:${twinB.fingerprint}:`);
    });

    it('reports no match as a 404', async () => {
      const error = await client.search('nobody.at.all@example.org').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SingularityHttpError);
      expect((error as SingularityHttpError).status).toBe(404);
    });
  });
});

describe(`SingularityCE against a server that requires tokens to push (PUSH_POLICY=token) on ${e2eBackend}`, () => {
  let server: TestServer;
  let client: SingularityClient;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer(e2eBackend, { PUSH_POLICY: 'token' });
    client = new SingularityClient(server.url);
    token = (await createToken(server.database.db, { email: 'sing.owner@example.org' })).secret;
  });
  afterAll(async () => {
    await server?.close();
  });

  it("key push without a token (bare Bearer, or no header) fails with 401 and the server's message", async () => {
    const key = await makeKey('Singularity Owner', 'sing.owner@example.org');
    for (const options of [{}, { omitAuthorization: true }]) {
      const error = await client.push(key.armored, undefined, options).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SingularityHttpError);
      expect((error as SingularityHttpError).status).toBe(401);
      expect((error as SingularityHttpError).serverMessage).toMatch(/^a valid access token is required to push keys: no token was given/);
      expect((error as SingularityHttpError).message).toContain((error as SingularityHttpError).serverMessage);
    }
    const wrong = await client.push(key.armored, 'ks_wrong').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((wrong as SingularityHttpError).serverMessage).toMatch(/unknown or revoked/);
  });

  it('remote add + remote login read the configuration document and verify the token; key push then works', async () => {
    const services = await client.remoteLogin(token);
    expect(services.get('keyserver')).toBe(server.url);
    expect(services.get('token')).toBe(server.url);
    const remote = new SingularityClient(services.get('keyserver')!);
    const key = await makeKey('Singularity Owner', 'sing.owner@example.org');
    expect((await remote.push(key.armored, token)).status).toBe(200);
    expect((await remote.pull(key.fingerprint.toLowerCase())).getFingerprint().toUpperCase()).toBe(key.fingerprint);
  });

  it("refuses a key without the token's e-mail with 403 and the Sylabs-style message", async () => {
    const key = await makeKey('Somebody Else', 'somebody.else@example.org');
    const error = await client.push(key.armored, token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as SingularityHttpError).status).toBe(403);
    expect((error as SingularityHttpError).serverMessage).toBe(
      `key ${key.fingerprint} does not contain identity with email 'sing.owner@example.org'`,
    );
  });

  it('remote login with a wrong token fails as "Invalid Credentials"; keyserver login accepts only a valid token', async () => {
    await expect(client.remoteLogin('ks_wrong')).rejects.toThrow('error response from server: Invalid Credentials');
    await expect(client.keyserverLogin(token)).resolves.toBeUndefined();
    await expect(client.keyserverLogin('ks_wrong')).rejects.toThrow(/401/);
  });
});

describe(`SingularityCE at a site whose users have account names and tokens from its portal (${e2eBackend})`, () => {
  let jwks: JwksServer;
  let provider: SigningKey;
  let server: TestServer;
  let client: SingularityClient;
  let dir: string;

  beforeAll(async () => {
    provider = await makeSigningKey('portal-1', 'EdDSA');
    jwks = await serveJwks([provider]);
    server = await startTestServer(e2eBackend, {
      PUSH_POLICY: 'token',
      TOKEN_JWKS_URL: jwks.url,
      TOKEN_ISSUER: ISSUER,
      TOKEN_AUDIENCE: AUDIENCE,
      TOKEN_IDENTITY_CLAIM: 'preferred_username',
    });
    client = new SingularityClient(server.url);
    dir = await tempDir('keystore-tokenfile-');
  });
  afterAll(async () => {
    await server?.close();
    await jwks?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A token file as a user saves it: the token and a newline. */
  async function tokenFile(name: string, token: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, `${token}\n`);
    return path;
  }

  /** A key whose user ID holds the account name between < and > (openpgp.js takes only addresses as `email`). */
  async function accountKey(userId: string): Promise<Made> {
    const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: userId }], format: 'object' });
    const publicKey = privateKey.toPublic();
    return { privateKey, publicKey, fingerprint: publicKey.getFingerprint().toUpperCase(), armored: publicKey.armor() };
  }

  it('remote login --tokenfile takes a token of `keystore token create --identity`; the key pushed is found by `key search -l`', async () => {
    const created = await createToken(server.database.db, { identity: 'aaa12345xy' });
    const { token, services } = await client.remoteLoginWithTokenFile(await tokenFile('local', created.secret));
    expect(token).toBe(created.secret);
    const remote = new SingularityClient(services.get('keyserver')!);
    const key = await accountKey('山田太郎 (test key 03) <aaa12345xy>');
    expect((await remote.push(key.armored, token)).status).toBe(200);
    const found = await remote.search('aaa12345xy', true);
    expect(found.count, found.body).toBe(1);
    expect(keyColumns(found.output, key.fingerprint).at(-1)).toBe('山田太郎 (test key 03) <aaa12345xy>');
  });

  it('remote login --tokenfile takes a token from the portal (a JWT of the identity provider), and key push works with it', async () => {
    const jwt = await signToken(provider, { claims: { preferred_username: 'bbb67890zz' } });
    const { token, services } = await client.remoteLoginWithTokenFile(await tokenFile('portal', jwt));
    const remote = new SingularityClient(services.get('keyserver')!);
    const key = await accountKey('Portal User (test key 04) <bbb67890zz>');
    expect((await remote.push(key.armored, token)).status).toBe(200);
    expect((await remote.pull(key.fingerprint.toLowerCase())).getFingerprint().toUpperCase()).toBe(key.fingerprint);
    const foreign = await accountKey('Someone <ccc11111aa>');
    const refused = await remote.push(foreign.armored, token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((refused as SingularityHttpError).status).toBe(403);
    expect((refused as SingularityHttpError).serverMessage).toBe(`key ${foreign.fingerprint} does not contain identity 'bbb67890zz'`);
  });

  it('refuses an expired portal token at login ("Invalid Credentials") and at push (401 with the reason)', async () => {
    const expired = await signToken(provider, { claims: { preferred_username: 'bbb67890zz' }, expiresIn: -3600 });
    await expect(client.remoteLoginWithTokenFile(await tokenFile('expired', expired))).rejects.toThrow(
      'error response from server: Invalid Credentials',
    );
    const key = await accountKey('Portal User <bbb67890zz>');
    const error = await client.push(key.armored, expired).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as SingularityHttpError).status).toBe(401);
    expect((error as SingularityHttpError).serverMessage).toMatch(/the token has expired/);
  });

  it('reads token files as auth.ReadToken does: only the first line, 200 to 4096 bytes (the old 46-character tokens were too short)', async () => {
    await expect(readTokenFile(await tokenFile('old', `ks_${'A'.repeat(43)}`))).rejects.toThrow('token is too short to be valid');
    await expect(readTokenFile(await tokenFile('huge', 'A'.repeat(4097)))).rejects.toThrow('token is too large to be valid');
    await writeFile(join(dir, 'two-lines'), `${'B'.repeat(200)}\nsecond line\n`);
    expect(await readTokenFile(join(dir, 'two-lines'))).toBe('B'.repeat(200));
  });
});

function keyColumns(output: string, fingerprint: string): string[] {
  const line = output.split('\n').find((l) => l.startsWith(fingerprint));
  expect(line, output).toBeDefined();
  return line!.split(/ {2,}/);
}
