// Word searches match whole words (as SKS and Hockeypuck do) through a GIN index on each user ID's words,
// instead of LIKE '%word%' on a trigram index: user_ids.words holds the distinct lower-cased words of uid,
// written at import. Existing rows are filled here, in batches; the trigram index served only the old LIKE
// search (and slowed every insert), so it goes. The pg_trgm extension stays.
import { sql, type Kysely } from 'kysely';

// Rows read and rewritten per statement while filling words for existing user IDs.
const BATCH = 1000;

const SEPARATORS = /[^\p{L}\p{M}\p{N}]+/u;

/**
 * A frozen copy of src/openpgp/userIdWords.ts as of this migration: migrations never import app code, so the
 * schema history stays reproducible whatever the app later becomes. A unit test checks that the two agree;
 * should the app's tokenizer ever change, a new migration recomputes the words with its own copy.
 */
export function userIdWordsV1(text: string): string[] {
  const words = new Set<string>();
  for (const word of text.normalize('NFC').toLowerCase().split(SEPARATORS)) {
    if (word.length > 0) words.add(word);
  }
  return [...words];
}

interface UidRow {
  key_row: string | number | bigint;
  position: number;
  uid: string;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table user_ids add column words text[] not null default '{}'`.execute(db);

  // Keyset batches in (key_row, position) order, the user ID's identity; each batch is written by one UPDATE
  // joined to a JSON document of its rows (one parameter, whatever the driver does with arrays).
  let after: { keyRow: string; position: number } | null = null;
  for (;;) {
    const rows: UidRow[] = (
      await (after === null
        ? sql<UidRow>`select key_row, position, uid from user_ids order by key_row, position limit ${BATCH}`
        : sql<UidRow>`select key_row, position, uid from user_ids
            where (key_row, position) > (${after.keyRow}::bigint, ${after.position}::integer)
            order by key_row, position limit ${BATCH}`
      ).execute(db)
    ).rows;
    if (rows.length === 0) break;
    const batch = rows.map((r) => ({ key_row: String(r.key_row), position: r.position, words: userIdWordsV1(r.uid) }));
    await sql`
      update user_ids u set words = b.words
      from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as b(key_row bigint, position integer, words text[])
      where u.key_row = b.key_row and u.position = b.position`.execute(db);
    const last = batch[batch.length - 1]!;
    after = { keyRow: last.key_row, position: last.position };
    if (rows.length < BATCH) break;
  }

  // Serves `words @> array[...]`: every searched word in one user ID.
  await sql`create index user_ids_words_idx on user_ids using gin (words)`.execute(db);
  await sql`drop index if exists user_ids_uid_trgm_idx`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index if not exists user_ids_uid_trgm_idx on user_ids using gin (lower(uid) gin_trgm_ops)`.execute(db);
  await sql`drop index if exists user_ids_words_idx`.execute(db);
  await sql`alter table user_ids drop column words`.execute(db);
}
