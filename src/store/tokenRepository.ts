// Access tokens: a SHA-256 of each secret with the identity (e-mail address or account name) it belongs to.
// Secrets themselves are never stored.
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';

export interface TokenRow {
  id: string;
  identity: string;
  created: Date;
  revokedAt: Date | null;
  lastUsed: Date | null;
}

/** A token that is not revoked, found by the hash of its secret. */
export interface ActiveToken {
  id: string;
  identity: string;
  lastUsed: Date | null;
}

export class TokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(secretSha256: string, identity: string): Promise<TokenRow> {
    const row = await this.db
      .insertInto('access_tokens')
      .values({ secret_sha256: secretSha256, identity, revoked_at: null, last_used: null })
      .returning(['id', 'identity', 'created', 'revoked_at', 'last_used'])
      .executeTakeFirstOrThrow();
    return toTokenRow(row);
  }

  async list(): Promise<TokenRow[]> {
    const rows = await this.db.selectFrom('access_tokens').select(['id', 'identity', 'created', 'revoked_at', 'last_used']).orderBy('id').execute();
    return rows.map(toTokenRow);
  }

  async findActive(secretSha256: string): Promise<ActiveToken | null> {
    const row = await this.db
      .selectFrom('access_tokens')
      .select(['id', 'identity', 'last_used'])
      .where('secret_sha256', '=', secretSha256)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row ? { id: String(row.id), identity: row.identity, lastUsed: row.last_used } : null;
  }

  /** Marks a token revoked; the row as it is afterwards, or null when no token has that id. */
  async revoke(id: string): Promise<TokenRow | null> {
    await this.db
      .updateTable('access_tokens')
      .set({ revoked_at: sql`now()` })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
    const row = await this.db
      .selectFrom('access_tokens')
      .select(['id', 'identity', 'created', 'revoked_at', 'last_used'])
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toTokenRow(row) : null;
  }

  async touch(id: string): Promise<void> {
    await this.db
      .updateTable('access_tokens')
      .set({ last_used: sql`now()` })
      .where('id', '=', id)
      .execute();
  }
}

function toTokenRow(row: { id: string; identity: string; created: Date; revoked_at: Date | null; last_used: Date | null }): TokenRow {
  return {
    id: String(row.id),
    identity: row.identity,
    created: new Date(row.created),
    revokedAt: row.revoked_at && new Date(row.revoked_at),
    lastUsed: row.last_used && new Date(row.last_used),
  };
}
