// The check of identity-provider tokens against a JWKS served on loopback: what is accepted, what is refused and
// why, how the key set is cached and refreshed, and an unreachable provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { CLOCK_TOLERANCE_SECONDS, ProviderTokens, looksLikeJwt } from '../../src/services/providerTokens.js';
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

describe('ProviderTokens', () => {
  let jwks: JwksServer;
  let es256: SigningKey;
  let eddsa: SigningKey;
  let byEmail: ProviderTokens;
  let byName: ProviderTokens;

  beforeAll(async () => {
    es256 = await makeSigningKey('k-es256', 'ES256');
    eddsa = await makeSigningKey('k-eddsa', 'EdDSA');
    jwks = await serveJwks([es256, eddsa]);
    const settings = { jwksUrl: jwks.url, issuer: ISSUER, audience: [AUDIENCE] };
    byEmail = new ProviderTokens({ ...settings, identityClaim: 'email' });
    byName = new ProviderTokens({ ...settings, identityClaim: 'preferred_username' });
  });
  afterAll(async () => {
    await jwks?.close();
  });

  it('accepts ES256 and EdDSA tokens and answers the identity claim in normal form', async () => {
    expect(await byName.verify(await signToken(es256, { claims: { preferred_username: ' AAA12345xy ' } }))).toEqual({ identity: 'aaa12345xy' });
    expect(await byName.verify(await signToken(eddsa, { claims: { preferred_username: 'bbb' } }))).toEqual({ identity: 'bbb' });
    expect(await byEmail.verify(await signToken(es256, { claims: { email: 'Alice@Example.org', email_verified: true } }))).toEqual({
      identity: 'alice@example.org',
    });
  });

  it('refuses bad tokens, each with its reason', async () => {
    const other = await makeSigningKey('k-other');
    const impostor = await makeSigningKey('k-es256'); // the provider's kid, another key
    const claims = { preferred_username: 'aaa12345xy' };
    const cases: [string, string, RegExp][] = [
      ['expired', await signToken(es256, { claims, expiresIn: -(CLOCK_TOLERANCE_SECONDS + 60) }), /expired/],
      ['not yet valid', await signToken(es256, { claims, notBefore: CLOCK_TOLERANCE_SECONDS + 60 }), /not valid yet/],
      ['wrong issuer', await signToken(es256, { claims, issuer: 'https://evil.example' }), /issuer/],
      ['wrong audience', await signToken(es256, { claims, audience: 'another-service' }), /audience/],
      ['no identity claim', await signToken(es256, { claims: { email: 'a@b.org' } }), /no "preferred_username" claim/],
      [
        'identity claim with a space',
        await signToken(es256, { claims: { preferred_username: 'two words' } }),
        /not an e-mail address or account name/,
      ],
      ['alg none', unsignedToken(claims), /not signed with RS256, ES256, EdDSA/],
      ['HMAC keyed with the public key', await hmacWithPublicKey(es256, claims), /not signed with RS256, ES256, EdDSA/],
      ['another key, unknown kid', await signToken(other, { claims }), /not signed by a key of this site's identity provider/],
      ["another key, the provider's kid", await signToken(impostor, { claims }), /signature does not verify/],
      ['header not JSON', 'bm90IGpzb24.bm90IGpzb24.c2ln', /not a well-formed signed JWT/],
    ];
    for (const [label, token, why] of cases) {
      const verdict = await byName.verify(token);
      expect(verdict, label).toEqual({ problem: expect.stringMatching(why) });
    }
    const unverified = await signToken(es256, { claims: { email: 'a@b.org', email_verified: false } });
    expect(await byEmail.verify(unverified)).toEqual({ problem: expect.stringMatching(/not verified/) });
    const notAnAddress = await signToken(es256, { claims: { email: 'aaa12345xy' } });
    expect(await byEmail.verify(notAnAddress)).toEqual({ problem: expect.stringMatching(/not an e-mail address/) });
  });

  it('allows the documented clock skew on exp and nbf', async () => {
    const claims = { preferred_username: 'skewed' };
    expect(await byName.verify(await signToken(es256, { claims, expiresIn: -(CLOCK_TOLERANCE_SECONDS - 10) }))).toEqual({ identity: 'skewed' });
    expect(await byName.verify(await signToken(es256, { claims, notBefore: CLOCK_TOLERANCE_SECONDS - 10 }))).toEqual({ identity: 'skewed' });
  });

  it('fetches the key set once, again for an unknown kid only after the cooldown (key rotation)', async () => {
    const first = await makeSigningKey('rot-1');
    const second = await makeSigningKey('rot-2');
    const rotating = await serveJwks([first]);
    try {
      const verifier = new ProviderTokens({ jwksUrl: rotating.url, issuer: ISSUER, audience: [AUDIENCE], identityClaim: 'sub', cooldownMs: 300 });
      const claims = { sub: 'rotated' };
      for (let i = 0; i < 3; i++) expect(await verifier.verify(await signToken(first, { claims }))).toEqual({ identity: 'rotated' });
      expect(rotating.fetches()).toBe(1);
      rotating.publish([first, second]);
      // Within the cooldown a token naming an unknown kid (made up or new) fetches nothing: bounded.
      for (let i = 0; i < 5; i++) expect(await verifier.verify(await signToken(second, { claims }))).toHaveProperty('problem');
      expect(rotating.fetches()).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await verifier.verify(await signToken(second, { claims }))).toEqual({ identity: 'rotated' });
      expect(rotating.fetches()).toBe(2);
    } finally {
      await rotating.close();
    }
  });

  it('answers 503 when the key set cannot be fetched', async () => {
    const gone = await serveJwks([es256]);
    const url = gone.url;
    await gone.close();
    const verifier = new ProviderTokens({ jwksUrl: url, issuer: ISSUER, audience: [AUDIENCE], identityClaim: 'sub', timeoutMs: 2_000 });
    const error = await verifier.verify(await signToken(es256, { claims: { sub: 'x' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(503);
  });

  it('tells JWTs from local tokens by their form', async () => {
    expect(looksLikeJwt(await signToken(es256))).toBe(true);
    expect(looksLikeJwt(unsignedToken({}))).toBe(true);
    expect(looksLikeJwt(`ks_${'A'.repeat(256)}`)).toBe(false);
    expect(looksLikeJwt('a.b')).toBe(false);
  });
});
