// Read side of the address-based APIs (Web Key Directory, VKS by-email): the keys an e-mail address names, the
// addresses a key was pushed for with an access token, and the fingerprint prefixes of keys changed in a day.
import { sql, type Kysely, type SqlBool } from 'kysely';
import type { Database } from './database.js';
import { toBytes } from './keyQueries.js';

/** An address (lower-case) or, as WKD URLs name it, the hash of its local part and its domain (lower-case). */
export type AddressMatch = { email: string } | { wkdHash: string; domain: string };

export interface AddressKey {
  fingerprint: string;
  version: number;
  packets: Uint8Array;
  /** The key's addresses (lower-case) that the match named. */
  emails: string[];
}

export interface AddressKeyOptions {
  versions: number[];
  /** Unix seconds: keys and user IDs expired by then are left out. */
  now: number;
  /**
   * Only keys pushed, for this address, with an access token of it that is still active (the audit log's
   * token rows): with PUSH_POLICY=token, that is what vouches for the address.
   */
  tokenVouched: boolean;
  limit: number;
}

type Db = Kysely<Database>;

export class AddressQueries {
  constructor(private readonly db: Db) {}

  /**
   * Keys with a live user ID (not revoked, not expired) of the address, themselves neither revoked nor expired:
   * newest first, at most `limit`. Served by the e-mail and WKD-hash indexes of user_ids.
   */
  async keysForAddress(match: AddressMatch, options: AddressKeyOptions): Promise<AddressKey[]> {
    const keys = await this.db
      .selectFrom('keys as k')
      .select(['k.id', 'k.fingerprint', 'k.version', 'k.packets'])
      .where((eb) =>
        eb.exists(
          this.liveUserIds(match, options)
            .select(sql`1`.as('one'))
            .where(sql<SqlBool>`u.key_row = k.id`),
        ),
      )
      .where('k.revoked', '=', false)
      .where((eb) => eb.or([eb('k.expires', 'is', null), eb('k.expires', '>', options.now)]))
      .where('k.version', 'in', options.versions)
      .orderBy('k.created', 'desc')
      .orderBy('k.id')
      .limit(options.limit)
      .execute();
    if (keys.length === 0) return [];
    // Which of each key's addresses the match named: the one asked for, or those with the hash in the domain.
    const emails =
      'email' in match
        ? new Map(keys.map((k) => [String(k.id), [match.email]]))
        : await this.matchedEmails(
            keys.map((k) => k.id),
            match,
            options,
          );
    return keys.map((k) => ({ fingerprint: k.fingerprint, version: k.version, packets: toBytes(k.packets), emails: emails.get(String(k.id)) ?? [] }));
  }

  /** User IDs the match names that are neither revoked nor expired (and vouched for, when that is asked). */
  private liveUserIds(match: AddressMatch, options: AddressKeyOptions) {
    return this.db
      .selectFrom('user_ids as u')
      .$if('email' in match, (qb) => qb.where('u.email', '=', (match as { email: string }).email))
      .$if('wkdHash' in match, (qb) =>
        qb
          .where('u.wkd_hash', '=', (match as { wkdHash: string }).wkdHash)
          .where(sql<SqlBool>`substr(u.email, strpos(u.email, '@') + 1) = ${(match as { domain: string }).domain}`),
      )
      .where('u.revoked', '=', false)
      .where((eb) => eb.or([eb('u.expires', 'is', null), eb('u.expires', '>', options.now)]))
      .$if(options.tokenVouched, (qb) =>
        qb.where(sql<SqlBool>`exists (
        select 1 from push_audit a left join access_tokens t on t.id = a.token_id
        where a.fingerprint = (select fingerprint from keys where keys.id = u.key_row)
          and a.outcome <> 'refused' and (a.token_id is null or t.revoked_at is null)
          and coalesce(a.identity, t.identity) = u.email)`),
      );
  }

  private async matchedEmails(keyRows: string[], match: AddressMatch, options: AddressKeyOptions): Promise<Map<string, string[]>> {
    const rows = await this.liveUserIds(match, options).select(['u.key_row', 'u.email']).where('u.key_row', 'in', keyRows).execute();
    const emails = new Map<string, string[]>();
    for (const row of rows) {
      const list = emails.get(String(row.key_row)) ?? [];
      if (row.email && !list.includes(row.email)) list.push(row.email);
      emails.set(String(row.key_row), list);
    }
    return emails;
  }

  /** The addresses (lower-case) a key was pushed for with an access token of that address still active. */
  async tokenVouchedEmails(fingerprint: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('push_audit as a')
      .leftJoin('access_tokens as t', 't.id', 'a.token_id')
      // Rows written before identities were recorded name their local token only (its identity never changes).
      .select((eb) => eb.fn.coalesce('a.identity', 't.identity').as('identity'))
      .distinct()
      .where('a.fingerprint', '=', fingerprint)
      .where('a.outcome', '<>', 'refused')
      // A local token revoked since no longer vouches; a provider token has no row here.
      .where((eb) => eb.or([eb('a.token_id', 'is', null), eb('t.revoked_at', 'is', null)]))
      .where((eb) => eb.or([eb('a.identity', 'is not', null), eb('t.identity', 'is not', null)]))
      .execute();
    return rows.flatMap((r) => (r.identity ? [r.identity] : []));
  }

  /** Lower-case 8-hex-digit prefixes of the fingerprints of keys last changed in [from, to), sorted, distinct. */
  async changedPrefixes(from: Date, to: Date, versions: number[]): Promise<string[]> {
    const rows = await this.db
      .selectFrom('keys')
      .select(sql<string>`lower(substr(fingerprint, 1, 8))`.as('prefix'))
      .distinct()
      .where('last_changed', '>=', from)
      .where('last_changed', '<', to)
      .where('version', 'in', versions)
      .orderBy('prefix')
      .execute();
    return rows.map((r) => r.prefix);
  }
}
