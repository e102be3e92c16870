// The migration shortening the words index's pending list, on both stores: user IDs written before it are
// merged into the index, at most 64 kB of those written after wait in the list, and word searches find all.
import { sql, type Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { folderMigrator, freshDatabases, ok } from '../helpers/migrations.js';
import { backends } from '../helpers/server.js';

const MIGRATION = '20261203120000_words_index_short_pending_list';
const PAGES_IN_64_KB = 8;

/** `count` keys with one user ID each, named "Person<i> <word>". */
async function insertUserIds(db: Kysely<unknown>, from: number, count: number, word: string): Promise<void> {
  await sql`
    with k as (
      insert into keys (fingerprint, key_id, version, algorithm, bits, created, revoked, packets, size,
        user_id_count, user_attribute_count, subkey_count, signature_count, signature_facts)
      select upper(md5('k' || i) || substr(md5('x' || i), 1, 8)), upper(substr(md5('k' || i), 17, 16)), 4, 22, 255,
        1500000000 + i, false, '\\x00'::bytea, 1, 1, 0, 0, 1, '{"userIds":[[]],"subkeys":[]}'::jsonb
      from generate_series(${from}::int, ${from + count - 1}::int) as i
      returning id, created
    )
    insert into user_ids (key_row, position, uid, words, created, revoked, is_primary)
    select id, 0, 'Person' || id || ' ' || ${word}, array['person' || id, 'name' || id, 'mail' || id, ${word}], created, false, true from k
  `.execute(db);
}

/** Pages merged by gin_clean_pending_list: what was pending, now moved into the index. */
async function cleanPending(db: Kysely<unknown>): Promise<number> {
  const { rows } = await sql<{ n: number }>`select gin_clean_pending_list('user_ids_words_idx'::regclass)::int as n`.execute(db);
  return rows[0]!.n;
}

/** Rows the words index finds for a word (sequential scans off, so the index answers). */
async function indexed(db: Kysely<unknown>, word: string): Promise<number> {
  return db.connection().execute(async (c) => {
    await sql`set enable_seqscan = off`.execute(c);
    try {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from user_ids where words @> array[${word}]::text[]`.execute(c);
      return rows[0]!.n;
    } finally {
      await sql`reset enable_seqscan`.execute(c);
    }
  });
}

describe.each(backends)(`migration ${MIGRATION} on %s`, (backend) => {
  const { open } = freshDatabases(backend);

  it('merges what was pending, keeps at most 64 kB of later user IDs pending; all are found by word', async () => {
    const db = await open();
    const { migrator: m, names } = await folderMigrator(db);
    const at = names.indexOf(MIGRATION);
    expect(at).toBeGreaterThan(0);
    const before = names[at - 1]!;
    ok(await m.migrateTo(before));
    await insertUserIds(db, 1, 1500, 'earlier');
    ok(await m.migrateToLatest());
    expect(await cleanPending(db)).toBe(0);
    // 1,500 user IDs fill more than one 64 kB list (8 pages of 8 kB, see down() below): each is merged as it fills.
    await insertUserIds(db, 10_001, 1500, 'later');
    expect(await cleanPending(db)).toBeLessThanOrEqual(PAGES_IN_64_KB);
    expect(await indexed(db, 'earlier')).toBe(1500);
    expect(await indexed(db, 'later')).toBe(1500);

    // down() brings back the 4 MB list: the same user IDs all wait in it.
    ok(await m.migrateTo(before));
    await insertUserIds(db, 20_001, 1500, 'again');
    expect(await cleanPending(db)).toBeGreaterThan(PAGES_IN_64_KB);
  });
});
