// Read side: which keys a search matches (each kind served by an index), their bytes and index facts.
import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import { PREPARED, type Database, type KeysTable } from './database.js';
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

/**
 * `keys.id in (...)` for a query; every branch is served by an index. Raw SQL rather than the query builder:
 * a lookup that misses the lookup cache spent more of the server's CPU building and compiling its query than
 * the database spent running it. The text depends on the kind of query alone, so each is a prepared statement.
 */
function matches(query: KeyQuery): RawBuilder<SqlBool> {
  switch (query.kind) {
    case 'fingerprint':
      return sql`keys.id in (select key_row from key_identifiers where fingerprint = ${query.fingerprint})`;
    case 'longId':
      return sql`keys.id in (select key_row from key_identifiers where long_id = ${query.keyId})`;
    case 'shortId':
      return sql`keys.id in (select key_row from key_identifiers where short_id = ${query.keyId})`;
    case 'identity':
      return sql`keys.id in (select key_row from user_ids where identity = ${query.identity})`;
    case 'exactUserId': {
      const text = query.text.toLowerCase();
      if (query.identity === null) return sql`keys.id in (select key_row from user_ids where lower(uid) = ${text})`;
      // Either match, each served by its own index (hash on lower(uid), btree on identity).
      return sql`keys.id in (select key_row from user_ids where lower(uid) = ${text}
        union select key_row from user_ids where identity = ${query.identity})`;
    }
    case 'words':
      // Every word in one user ID, whole words only: served by the GIN index on user_ids.words. The words go
      // as one text[] parameter (node-postgres and PGlite both send a JS string array as an array literal).
      return sql`keys.id in (select key_row from user_ids where words @> ${query.words}::text[])`;
  }
}

/** Exact matches first (for word searches: keys with a user ID equal to the whole search), then newest. */
function ordering(query: KeyQuery): RawBuilder<unknown> {
  if (query.kind !== 'words') return sql`order by keys.created desc, keys.id`;
  const text = query.text.toLowerCase();
  return sql`order by exists (select 1 from user_ids u where u.key_row = keys.id and lower(u.uid) = ${text}) desc, keys.created desc, keys.id`;
}

/** The keys of these versions matching a query (a where clause on `keys`). */
function matching(query: KeyQuery, versions: number[]): RawBuilder<SqlBool> {
  return sql`keys.version = any(${versions}::smallint[]) and ${matches(query)}`;
}

/** One page of the matching keys with some columns, exact matches first, then newest; a prepared statement. */
function matchingPage<Row>(columns: RawBuilder<unknown>, query: KeyQuery, page: Page): RawBuilder<Row> {
  return sql<Row>`${PREPARED}select ${columns} from keys where ${matching(query, page.versions)}
    ${ordering(query)} offset ${page.offset} limit ${page.limit}`;
}

const PACKET_COLUMNS = sql.raw('keys.fingerprint, keys.version, keys.packets');

// Each key's parts come as a JSON array built by a subquery on its key_row index, evaluated for the page's rows
// only (after the sort and limit).
const INDEX_COLUMNS = sql.raw(`keys.id, keys.fingerprint, keys.key_id, keys.version, keys.algorithm, keys.bits, keys.created,
  keys.expires, keys.revoked, keys.signature_facts,
  (select coalesce(json_agg(json_build_array(u.uid, u.created, u.expires, u.revoked) order by u.position), '[]'::json)
    from user_ids u where u.key_row = keys.id) as user_id_parts,
  (select coalesce(json_agg(json_build_array(s.fingerprint, s.long_id, s.algorithm, s.bits, s.created, s.expires, s.revoked)
    order by s.created, s.fingerprint), '[]'::json) from key_identifiers s where s.key_row = keys.id and not s.is_primary) as subkey_parts`);

type IndexQueryRow = Pick<
  KeysTable,
  'fingerprint' | 'key_id' | 'version' | 'algorithm' | 'bits' | 'created' | 'expires' | 'revoked' | 'signature_facts'
> & { id: string; user_id_parts: UserIdParts[]; subkey_parts: SubkeyParts[] };

export class KeyQueries implements KeyReader {
  /** `reads` chooses the database each lookup runs on (a standby or the primary); by default `db`. */
  constructor(
    db: Db,
    private readonly reads: ReadSource = directReads(db),
  ) {}

  /** The matching keys' bytes, exact matches first, then newest. */
  async packets(query: KeyQuery, page: Page): Promise<FoundKey[]> {
    const statement = matchingPage<{ fingerprint: string; version: number; packets: Uint8Array }>(PACKET_COLUMNS, query, page);
    const { rows } = await this.reads.read((db) => statement.execute(db));
    return rows.map((r) => ({ fingerprint: r.fingerprint, version: r.version, packets: toBytes(r.packets) }));
  }

  async count(query: KeyQuery, versions: number[]): Promise<number> {
    const statement = sql<{ n: string }>`${PREPARED}select count(*) as n from keys where ${matching(query, versions)}`;
    const { rows } = await this.reads.read((db) => statement.execute(db));
    return Number(rows[0]!.n);
  }

  /**
   * The statement selecting one page of matching keys' index facts with their user IDs and subkeys, in one
   * round trip (also used to EXPLAIN searches).
   */
  indexQuery(query: KeyQuery, page: Page): RawBuilder<IndexQueryRow> {
    return matchingPage<IndexQueryRow>(INDEX_COLUMNS, query, page);
  }

  /** Index facts of the matching keys (one page), with user IDs and subkeys. */
  async index(query: KeyQuery, page: Page): Promise<IndexRow[]> {
    const statement = this.indexQuery(query, page);
    const { rows: keys } = await this.reads.read((db) => statement.execute(db));
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
