// Access tokens: made by the command line (the secret is shown once), checked on requests, revoked, listed.
import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import { emailOf } from '../openpgp/index.js';
import type { TokenRepository, TokenRow } from '../store/tokenRepository.js';

/** Who a valid token belongs to: enough for access control and the audit log, never the secret. */
export interface AuthenticatedToken {
  id: string;
  email: string;
}

export type AccessPolicy = 'open' | 'token';

export type TokenInfo = TokenRow;

export interface NewToken {
  id: string;
  email: string;
  /** The secret to hand to the user; only its hash is stored, so it cannot be shown again. */
  secret: string;
}

const SECRET_PREFIX = 'ks_';
// 32 random bytes in base64url are 43 characters; anything much longer is not one of ours.
const MAX_SECRET_LENGTH = 256;
// Refresh a token's last_used at most this often, so authenticated lookups do not each write a row.
const LAST_USED_RESOLUTION_MS = 60_000;

export class AccessService {
  constructor(private readonly tokens: TokenRepository) {}

  async create(email: string): Promise<NewToken> {
    const normalized = emailOf(email.trim());
    if (!normalized) throw new AppError(400, 'bad_request', `not an e-mail address: ${JSON.stringify(email)}`);
    const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
    const row = await this.tokens.insert(sha256(secret), normalized);
    return { id: row.id, email: row.email, secret };
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

  /** The token a secret belongs to, or null when it is unknown or revoked. */
  async authenticate(secret: string): Promise<AuthenticatedToken | null> {
    if (secret === '' || secret.length > MAX_SECRET_LENGTH) return null;
    const found = await this.tokens.findActive(sha256(secret));
    if (!found) return null;
    if (!found.lastUsed || Date.now() - found.lastUsed.getTime() > LAST_USED_RESOLUTION_MS) await this.tokens.touch(found.id);
    return { id: found.id, email: found.email };
  }
}

function sha256(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
