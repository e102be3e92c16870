// Drops what no query uses (bench/index-usage.ts runs every kind of store query with sequential scans disabled,
// on PGlite and PostgreSQL: these two indexes are never scanned):
// - keys_first_seen_idx, keys_last_changed_idx: no query filters or sorts on first_seen or last_changed (stats
//   read key_stats_hourly). The second also cost every key update its heap-only (HOT) update, since last_changed
//   changes with each write.
// - the pg_trgm extension: only the trigram index used it, gone since 20261121020000_user_id_words. Dropped only
//   when this database role may drop it and nothing depends on it (a database shared with another application,
//   or an extension an administrator created, keeps it).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists keys_first_seen_idx`.execute(db);
  await sql`drop index if exists keys_last_changed_idx`.execute(db);
  // RESTRICT (the default) refuses while any object uses one of its operator classes or functions.
  await sql`
    do $$
    begin
      if exists (select 1 from pg_extension where extname = 'pg_trgm') then
        drop extension pg_trgm;
      end if;
    exception when dependent_objects_still_exist or insufficient_privilege then
      null;
    end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create extension if not exists pg_trgm`.execute(db);
  await sql`create index if not exists keys_last_changed_idx on keys (last_changed)`.execute(db);
  await sql`create index if not exists keys_first_seen_idx on keys (first_seen)`.execute(db);
}
