// The GIN index on user_ids.words with a short pending list. By default (fastupdate) a GIN index takes new
// entries into an unsorted pending list that every search reads through, merged into the index by VACUUM,
// autovacuum, or once the list passes gin_pending_list_limit (4 MB). PGlite runs no autovacuum, and a server
// with it off or lagging behind an import does the same: after importing 11,000 keys all 17,000 user IDs sat
// in the list and each word search read it whole (5 ms, and the planner chose a sequential scan instead).
// 64 kB (the least allowed, a few hundred user IDs) keeps a search's extra reading under 0.1 ms; inserts still
// go through the list, merged in batches (20 µs a user ID; with no list at all, fastupdate off, 70 µs).
// What is pending now is merged here.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter index user_ids_words_idx set (gin_pending_list_limit = 64)`.execute(db);
  await sql`select gin_clean_pending_list('user_ids_words_idx'::regclass)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter index user_ids_words_idx reset (gin_pending_list_limit)`.execute(db);
}
