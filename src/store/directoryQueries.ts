// Read side of the web pages: one key with everything derived at import, the newest keys, per-day counts.
// Never reads a key's packets except to download them.
import { sql, type Kysely, type SqlBool } from 'kysely';
import { keySummaryColumns } from './keySummaryColumns.js';
import type { Database } from './database.js';
import { toBytes } from './keyQueries.js';
import { dailyChangeCounts } from './statsRepository.js';
import type { DailyChangeCounts, KeySummary, Revocation, SignatureFacts, SubkeyListing, UserIdSummary } from '../vocabulary.js';

export type RevocationFact = Revocation;
export type DirectorySubkey = SubkeyListing;
export type DirectoryUserId = UserIdSummary & { primary: boolean };

/** The short summary of a key: what the listing and search results show. */
export interface KeySummaryRow extends KeySummary {
  userIds: DirectoryUserId[];
  subkeyCount: number;
  firstSeen: Date;
}

export interface KeyPageRow extends KeySummaryRow, Pick<SubkeyListing, 'capabilities' | 'revocation'> {
  lastChanged: Date;
  size: number;
  signatureCount: number;
  userAttributeCount: number;
  subkeys: DirectorySubkey[];
  /** Signatures per user ID (aligned with userIds) and per subkey, as derived at import. */
  signatureFacts: SignatureFacts;
}

/** A key stored here that issued signatures: how a page names and links it. */
export interface IssuerRow {
  fingerprint: string;
  userId: string | null;
}

type Db = Kysely<Database>;

const revocationOf = (code: number | null, text: string | null): RevocationFact | null => (code === null ? null : { code, text: text ?? '' });
const optional = (v: string | number | null): number | null => (v === null ? null : Number(v));

export class DirectoryQueries {
  constructor(private readonly db: Db) {}

  /** Which stored key a (sub)key fingerprint belongs to: its primary fingerprint, or null. */
  async primaryFingerprintOf(fingerprint: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('key_identifiers')
      .innerJoin('keys', 'keys.id', 'key_identifiers.key_row')
      .select('keys.fingerprint')
      .where('key_identifiers.fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return row?.fingerprint ?? null;
  }

  /** Everything a key's page shows, by primary fingerprint (upper case); null when not stored. */
  async keyPage(fingerprint: string): Promise<KeyPageRow | null> {
    const key = await this.db
      .selectFrom('keys')
      .select([
        'id',
        'fingerprint',
        'key_id',
        'version',
        'algorithm',
        'bits',
        'created',
        'expires',
        'revoked',
        'size',
        'signature_count',
        'user_attribute_count',
        'subkey_count',
        'signature_facts',
        'first_seen',
        'last_changed',
      ])
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    if (!key) return null;
    const [userIds, identifiers] = await Promise.all([
      this.userIdsOf([key.id]),
      this.db
        .selectFrom('key_identifiers')
        .select([
          'is_primary',
          'fingerprint',
          'long_id',
          'algorithm',
          'bits',
          'created',
          'expires',
          'revoked',
          'capabilities',
          'revocation_code',
          'revocation_reason',
        ])
        .where('key_row', '=', key.id)
        .orderBy('is_primary', 'desc')
        .orderBy('created')
        .orderBy('fingerprint')
        .execute(),
    ]);
    const primary = identifiers.find((i) => i.is_primary);
    return {
      fingerprint: key.fingerprint,
      keyId: key.key_id,
      version: key.version,
      algorithm: key.algorithm,
      bits: key.bits,
      created: Number(key.created),
      expires: optional(key.expires),
      revoked: key.revoked,
      userIds: userIds.get(String(key.id)) ?? [],
      subkeyCount: key.subkey_count,
      firstSeen: new Date(key.first_seen),
      lastChanged: new Date(key.last_changed),
      size: key.size,
      signatureCount: key.signature_count,
      userAttributeCount: key.user_attribute_count,
      capabilities: primary?.capabilities ?? null,
      revocation: primary ? revocationOf(primary.revocation_code, primary.revocation_reason) : null,
      subkeys: identifiers
        .filter((i) => !i.is_primary)
        .map((i) => ({
          fingerprint: i.fingerprint,
          keyId: i.long_id,
          algorithm: i.algorithm,
          bits: i.bits,
          created: Number(i.created),
          expires: optional(i.expires),
          revoked: i.revoked,
          capabilities: i.capabilities,
          revocation: revocationOf(i.revocation_code, i.revocation_reason),
        })),
      signatureFacts: key.signature_facts as KeyPageRow['signatureFacts'],
    };
  }

  /** The stored bytes of a key, by primary fingerprint (upper case), for download. */
  async packets(fingerprint: string): Promise<Uint8Array | null> {
    const row = await this.db.selectFrom('keys').select('packets').where('fingerprint', '=', fingerprint).executeTakeFirst();
    return row ? toBytes(row.packets) : null;
  }

  /** Stored keys by the long key ID of their primary key: to name and link signature issuers. */
  async issuers(keyIds: string[]): Promise<Map<string, IssuerRow>> {
    if (keyIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('key_identifiers')
      .innerJoin('keys', 'keys.id', 'key_identifiers.key_row')
      .select(['key_identifiers.long_id', 'keys.fingerprint', 'keys.primary_user_id'])
      // One array parameter, not a list of hundreds (a well-signed key names that many issuers): planned in no time.
      .where(sql<SqlBool>`key_identifiers.long_id = any(${sql.val(keyIds)}::text[])`)
      .where('key_identifiers.is_primary', '=', true)
      .execute();
    return new Map(rows.map((r) => [r.long_id, { fingerprint: r.fingerprint, userId: r.primary_user_id }]));
  }

  /** The most recently added keys first (insertion order), one page, with their user IDs. */
  async newest(offset: number, limit: number): Promise<KeySummaryRow[]> {
    const keys = await this.db
      .selectFrom('keys')
      .select(['id', 'fingerprint', 'key_id', 'version', 'algorithm', 'bits', 'created', 'expires', 'revoked', 'subkey_count', 'first_seen'])
      .orderBy('id', 'desc')
      .offset(offset)
      .limit(limit)
      .execute();
    const userIds = await this.userIdsOf(keys.map((k) => k.id));
    return keys.map((k) => ({
      ...keySummaryColumns(k),
      userIds: userIds.get(String(k.id)) ?? [],
      subkeyCount: k.subkey_count,
      firstSeen: new Date(k.first_seen),
    }));
  }

  /** Keys added and updated per day (UTC), the last `days` days, oldest first; days without changes left out. */
  async dailyCounts(days: number): Promise<DailyChangeCounts[]> {
    // From the start of the UTC day `days - 1` days ago: whole days only.
    return dailyChangeCounts(
      this.db,
      sql<boolean>`hour >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' - make_interval(days => ${days - 1})`,
    );
  }

  private async userIdsOf(keyRows: string[]): Promise<Map<string, DirectoryUserId[]>> {
    const byKey = new Map<string, DirectoryUserId[]>();
    if (keyRows.length === 0) return byKey;
    const rows = await this.db
      .selectFrom('user_ids')
      .select(['key_row', 'uid', 'created', 'expires', 'revoked', 'is_primary'])
      .where('key_row', 'in', keyRows)
      .orderBy('key_row')
      .orderBy('position')
      .execute();
    for (const u of rows) {
      const list = byKey.get(String(u.key_row)) ?? [];
      list.push({ text: u.uid, created: Number(u.created), expires: optional(u.expires), revoked: u.revoked, primary: u.is_primary });
      byKey.set(String(u.key_row), list);
    }
    return byKey;
  }
}
