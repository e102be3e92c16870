// Tokens issued by the site's identity provider (Keycloak, an OIDC server, ...): signed JWTs checked here against
// the provider's published keys (JWKS), its issuer, this keyserver's audience and the token's dates. The one module
// that uses `jose`; nothing here is hand-written JWT code.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { AppError } from '../errors.js';
import { isEmailIdentity, normalizeIdentity } from '../openpgp/index.js';

/** Signature algorithms accepted: asymmetric only, so never `none` and never HMAC keyed with a public key. */
export const PROVIDER_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
/** How far the provider's clock and ours may disagree when `exp` and `nbf` are checked. */
export const CLOCK_TOLERANCE_SECONDS = 60;

export interface ProviderTokenSettings {
  /** TOKEN_JWKS_URL: where the provider publishes its signing keys. */
  jwksUrl: string;
  /** TOKEN_ISSUER: the `iss` every token must carry. */
  issuer: string;
  /** TOKEN_AUDIENCE: the `aud` values meaning this keyserver (one of them must be in the token). */
  audience: string[];
  /** TOKEN_IDENTITY_CLAIM: the claim holding the user's identity (`email`, `preferred_username`, ...). */
  identityClaim: string;
  /** Fetched keys are used this long before being fetched again (default 10 minutes). */
  cacheMaxAgeMs?: number;
  /** After a fetch, a token naming an unknown key (`kid`) waits this long before causing another (default 30 s). */
  cooldownMs?: number;
  /** A fetch of the keys taking longer fails (default 5 s). */
  timeoutMs?: number;
}

/** A provider token's holder, or why the token is refused (a message for the person who sent it). */
export type ProviderVerdict = { identity: string } | { problem: string };

// Three base64url parts: header, payload, signature (empty for `alg: none`, which is then refused by name).
const COMPACT_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Whether a secret has the form of a JWT (local tokens never contain a dot). */
export function looksLikeJwt(secret: string): boolean {
  return COMPACT_JWT.test(secret);
}

export class ProviderTokens {
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly settings: ProviderTokenSettings) {
    // jose caches the key set, fetches it again when a token names a key it does not hold (at most once per
    // cooldown, so a stream of tokens with made-up `kid`s cannot make us hammer the provider), and never
    // follows redirects.
    this.keys = createRemoteJWKSet(new URL(settings.jwksUrl), {
      cacheMaxAge: settings.cacheMaxAgeMs ?? 600_000,
      cooldownDuration: settings.cooldownMs ?? 30_000,
      timeoutDuration: settings.timeoutMs ?? 5_000,
    });
  }

  /** Checks signature, algorithm, issuer, audience, `exp` (required) and `nbf`, then reads the identity claim. */
  async verify(jwt: string): Promise<ProviderVerdict> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, this.keys, {
        algorithms: PROVIDER_ALGORITHMS,
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp'],
      }));
    } catch (e) {
      return { problem: refusal(e) };
    }
    return identityFrom(payload, this.settings.identityClaim);
  }
}

function identityFrom(payload: JWTPayload, claim: string): ProviderVerdict {
  const value = payload[claim];
  if (typeof value !== 'string' || value.trim() === '') return { problem: `the token has no "${claim}" claim naming its holder` };
  const identity = normalizeIdentity(value);
  if (identity === null) return { problem: `the token's "${claim}" claim is not an e-mail address or account name` };
  if (claim === 'email') {
    if (!isEmailIdentity(identity)) return { problem: 'the token\'s "email" claim is not an e-mail address' };
    // OIDC providers say whether they checked the address; one they did not check proves nothing.
    if (payload['email_verified'] === false) return { problem: "the identity provider has not verified the token's e-mail address" };
  }
  return { identity };
}

/** Why jose refused a token, in words for the user; an unreachable provider is the server's problem (503). */
function refusal(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'the token has expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'iss':
        return "the token was not issued by this site's identity provider (issuer)";
      case 'aud':
        return 'the token is not meant for this keyserver (audience)';
      case 'nbf':
        return 'the token is not valid yet';
      case 'exp':
        return 'the token has no valid expiry time (exp)';
      default:
        return `the token's "${e.claim}" claim is not valid`;
    }
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return `the token is not signed with ${PROVIDER_ALGORITHMS.join(', ')}`;
  if (e instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) {
    return "the token is not signed by a key of this site's identity provider";
  }
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid || e instanceof errors.JOSENotSupported) {
    return 'the token is not a well-formed signed JWT';
  }
  // The key set could not be fetched or read (timeout, refused connection, not 200, not a JWKS).
  throw new AppError(503, 'identity_provider_unavailable', "the identity provider's keys (TOKEN_JWKS_URL) cannot be fetched; try again shortly");
}
