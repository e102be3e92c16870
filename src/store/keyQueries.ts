// Read side: which keys a search matches (each kind served by an index), their bytes and index facts.
import { expressionBuilder, sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { Database } from './database.js';
import { keySummaryColumns } from './keySummaryColumns.js';
import { directReads, type ReadSource } from './readReplicas.js';
import type { FoundKey, IndexRow, KeyQuery } from '../vocabulary.js';
import type { KeyReader } from './keyStore.js';

export interface Page {
  offset: number;
  limit: number;
  versions: number[];
}

type Db = Kysely<Database>;

// A user ID and a subkey as the index query's JSON arrays give them: uid, created, expires, revoked; fingerprint,
// long key ID, algorithm, bits, created, expires, revoked (dates are JSON numbers, Unix seconds).
type UserIdParts = [string, number, number | null, boolean];
type SubkeyParts = [string, string, number, number, number, number | null, boolean];

/** `keys.id in (...)` for a query; every branch is served by an index. */
function matches(db: Db, query: KeyQuery): Expression<SqlBool> {
  const eb = expressionBuilder<Database, 'keys'>();
  switch (query.kind) {
    case 'fingerprint':
      return eb('keys.id', 'in', db.selectFrom('key_identifiers').select('key_row').where('fingerprint', '=', query.fingerprint));
    case 'longId':
      return eb('keys.id', 'in', db.selectFrom('key_identifiers').select('key_row').where('long_id', '=', query.keyId));
    case 'shortId':
      return eb('keys.id', 'in', db.selectFrom('key_identifiers').select('key_row').where('short_id', '=', query.keyId));
    case 'identity':
      return eb('keys.id', 'in', db.selectFrom('user_ids').select('key_row').where('identity', '=', query.identity));
    case 'exactUserId': {
      const wholeUid = db
        .selectFrom('user_ids')
        .select('key_row')
        .where(sql`lower(uid)`, '=', query.text.toLowerCase());
      if (query.identity === null) return eb('keys.id', 'in', wholeUid);
      // Either match, each served by its own index (hash on lower(uid), btree on identity).
      return eb('keys.id', 'in', wholeUid.union(db.selectFrom('user_ids').select('key_row').where('identity', '=', query.identity)));
    }
    case 'words':
      // Every word in one user ID, whole words only: served by the GIN index on user_ids.words. The words go
      // as one text[] parameter (node-postgres and PGlite both send a JS string array as an array literal).
      return eb(
        'keys.id',
        'in',
        db
          .selectFrom('user_ids')
          .select('key_row')
          .where(sql<SqlBool>`words @> ${sql.val(query.words)}::text[]`),
      );
  }
}

/** For word searches, keys with a user ID equal to the whole search come first. */
function exactFirst(query: KeyQuery & { kind: 'words' }) {
  const text = query.text.toLowerCase();
  return sql<boolean>`exists (select 1 from user_ids u where u.key_row = keys.id and lower(u.uid) = ${text})`;
}

export class KeyQueries implements KeyReader {
  /** `reads` chooses the database each lookup runs on (a standby or the primary); by default `db`. */
  constructor(
    private readonly db: Db,
    private readonly reads: ReadSource = directReads(db),
  ) {}

  /** One page of the matching keys, exact matches first, then newest. */
  private matchingPage(db: Db, query: KeyQuery, page: Page) {
    return db
      .selectFrom('keys')
      .where('version', 'in', page.versions)
      .where(matches(db, query))
      .$if(query.kind === 'words', (qb) => qb.orderBy(exactFirst(query as KeyQuery & { kind: 'words' }), 'desc'))
      .orderBy('created', 'desc')
      .orderBy('id')
      .offset(page.offset)
      .limit(page.limit);
  }

  /** The matching keys' bytes, exact matches first, then newest. */
  async packets(query: KeyQuery, page: Page): Promise<FoundKey[]> {
    const rows = await this.reads.read((db) => this.matchingPage(db, query, page).select(['fingerprint', 'version', 'packets']).execute());
    return rows.map((r) => ({ fingerprint: r.fingerprint, version: r.version, packets: toBytes(r.packets) }));
  }

  async count(query: KeyQuery, versions: number[]): Promise<number> {
    const row = await this.reads.read((db) =>
      db
        .selectFrom('keys')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('version', 'in', versions)
        .where(matches(db, query))
        .executeTakeFirstOrThrow(),
    );
    return Number(row.n);
  }

  /**
   * The query selecting one page of matching keys' index facts with their user IDs and subkeys (also used to
   * EXPLAIN searches). One statement, one round trip: each key's parts come as a JSON array built by a subquery
   * on its key_row index, evaluated for the page's rows only (after the sort and limit).
   */
  indexQuery(query: KeyQuery, page: Page, db: Db = this.db) {
    return this.matchingPage(db, query, page)
      .select(['id', 'fingerprint', 'key_id', 'version', 'algorithm', 'bits', 'created', 'expires', 'revoked', 'signature_facts'])
      .select(
        sql<UserIdParts[]>`(select coalesce(json_agg(json_build_array(u.uid, u.created, u.expires, u.revoked) order by u.position), '[]'::json)
        from user_ids u where u.key_row = keys.id)`.as('user_id_parts'),
      )
      .select(
        sql<SubkeyParts[]>`(select coalesce(json_agg(json_build_array(s.fingerprint, s.long_id, s.algorithm, s.bits, s.created, s.expires, s.revoked)
        order by s.created, s.fingerprint), '[]'::json) from key_identifiers s where s.key_row = keys.id and not s.is_primary)`.as('subkey_parts'),
      );
  }

  /** Index facts of the matching keys (one page), with user IDs and subkeys. */
  async index(query: KeyQuery, page: Page): Promise<IndexRow[]> {
    const keys = await this.reads.read((db) => this.indexQuery(query, page, db).execute());
    return keys.map((k) => ({
      ...keySummaryColumns(k),
      userIds: k.user_id_parts.map(([text, created, expires, revoked]) => ({
        text,
        created: Number(created),
        expires: expires === null ? null : Number(expires),
        revoked,
      })),
      subkeys: k.subkey_parts.map(([fingerprint, keyId, algorithm, bits, created, expires, revoked]) => ({
        fingerprint,
        keyId,
        algorithm,
        bits,
        created: Number(created),
        expires: expires === null ? null : Number(expires),
        revoked,
      })),
      signatureFacts: k.signature_facts as IndexRow['signatureFacts'],
    }));
  }

  /** Primary user IDs of stored keys by long key ID, to name signature issuers. */
  async primaryUserIds(keyIds: string[]): Promise<Map<string, string>> {
    if (keyIds.length === 0) return new Map();
    const rows = await this.reads.read((db) =>
      db
        .selectFrom('key_identifiers')
        .innerJoin('keys', 'keys.id', 'key_identifiers.key_row')
        .select(['key_identifiers.long_id', 'keys.primary_user_id'])
        .where('key_identifiers.long_id', 'in', keyIds)
        .where('key_identifiers.is_primary', '=', true)
        .execute(),
    );
    return new Map(rows.filter((r) => r.primary_user_id !== null).map((r) => [r.long_id, r.primary_user_id!]));
  }
}

export function toBytes(value: Uint8Array): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(value as ArrayLike<number>);
}
