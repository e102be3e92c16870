// Access tokens: local ones made by the command line (the secret is shown once), checked on requests, revoked,
// listed; and, side by side, tokens issued by the site's identity provider (providerTokens.ts). Each belongs to an
// identity: an e-mail address or an account name, in normal form (normalizeIdentity).
import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import { emailOf, normalizeIdentity } from '../openpgp/index.js';
import type { TokenRepository, TokenRow } from '../store/tokenRepository.js';
import { looksLikeJwt, type ProviderTokens } from './providerTokens.js';

/** Who a valid token belongs to: enough for access control and the audit log, never the secret. */
export interface AuthenticatedToken {
  /** A local token's id; null for a token of the identity provider (it has no row here). */
  id: string | null;
  /** E-mail address or account name, normal form. */
  identity: string;
  source: 'local' | 'provider';
}

/** A valid token, or why the secret given is not one. */
export type Authentication = { token: AuthenticatedToken } | { problem: string };

export type AccessPolicy = 'open' | 'token';

export type TokenInfo = TokenRow;

export interface NewToken {
  id: string;
  identity: string;
  /** The secret to hand to the user; only its hash is stored, so it cannot be shown again. */
  secret: string;
}

/** What a new local token is for: an identity of any kind, or one that must be an e-mail address (`--email`). */
export type TokenOwner = { identity: string } | { email: string };

const SECRET_PREFIX = 'ks_';
// 192 random bytes are 256 base64url characters: with the prefix, 259, within the 200 to 4096 characters on one
// line that SingularityCE's `remote login --tokenfile` accepts. Tokens made before (43 characters) still work.
const SECRET_BYTES = 192;
// No real token is longer (Singularity refuses tokens over 4096 characters; JWTs with many claims stay well below).
const MAX_SECRET_LENGTH = 8192;
// Refresh a token's last_used at most this often, so authenticated lookups do not each write a row.
const LAST_USED_RESOLUTION_MS = 60_000;

export class AccessService {
  constructor(
    private readonly tokens: TokenRepository,
    private readonly provider: ProviderTokens | null = null,
  ) {}

  async create(owner: TokenOwner): Promise<NewToken> {
    const identity = 'email' in owner ? emailIdentity(owner.email) : accountIdentity(owner.identity);
    const secret = SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
    const row = await this.tokens.insert(sha256(secret), identity);
    return { id: row.id, identity: row.identity, secret };
  }

  list(): Promise<TokenInfo[]> {
    return this.tokens.list();
  }

  /** Revokes a token by id; answers the token as it is now (revokedAt set). */
  async revoke(id: string): Promise<TokenInfo> {
    if (!/^[1-9][0-9]{0,17}$/.test(id)) throw new AppError(400, 'bad_request', `not a token id: ${JSON.stringify(id)} (see keystore token list)`);
    const row = await this.tokens.revoke(id);
    if (!row) throw new AppError(404, 'not_found', `no token with id ${id}`);
    return row;
  }

  /**
   * The token a secret is: a JWT goes to the identity provider's check (when one is set), anything else is looked
   * up by its hash among the local tokens that are not revoked. Throws 503 when the provider's keys are unreachable.
   */
  async authenticate(secret: string): Promise<Authentication> {
    if (secret === '' || secret.length > MAX_SECRET_LENGTH) return { problem: 'the token given is unknown or revoked' };
    if (looksLikeJwt(secret)) {
      if (!this.provider) return { problem: 'the token is a JWT, and this keyserver accepts no tokens of an identity provider' };
      const verdict = await this.provider.verify(secret);
      return 'problem' in verdict ? verdict : { token: { id: null, identity: verdict.identity, source: 'provider' } };
    }
    const found = await this.tokens.findActive(sha256(secret));
    if (!found) return { problem: 'the token given is unknown or revoked' };
    if (!found.lastUsed || Date.now() - found.lastUsed.getTime() > LAST_USED_RESOLUTION_MS) await this.tokens.touch(found.id);
    return { token: { id: found.id, identity: found.identity, source: 'local' } };
  }
}

function emailIdentity(address: string): string {
  const email = emailOf(address.trim());
  const identity = email === null ? null : normalizeIdentity(email);
  if (identity === null) throw new AppError(400, 'bad_request', `not an e-mail address: ${JSON.stringify(address)}`);
  return identity;
}

function accountIdentity(name: string): string {
  const identity = normalizeIdentity(name);
  if (identity === null) {
    throw new AppError(
      400,
      'bad_request',
      `not an identity: ${JSON.stringify(name)} (an e-mail address or account name, as between < and > in a user ID: no spaces, < or >, at most 254 characters)`,
    );
  }
  return identity;
}

function sha256(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
