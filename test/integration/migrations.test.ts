// The migration dropping unused indexes and pg_trgm, on both stores: what it drops on a fresh database, that
// it leaves pg_trgm to whatever else depends on it, and that down() restores both.
import { sql, type Kysely, type Migrator } from 'kysely';
import { describe, expect, it } from 'vitest';
import { folderMigrator, freshDatabases, ok } from '../helpers/migrations.js';
import { backends } from '../helpers/server.js';

const DROP = '20261203000007_drop_unused_indexes';
const BEFORE = '20261121020000_user_id_words';

async function migrator(db: Kysely<unknown>): Promise<Migrator> {
  const { migrator: m, names } = await folderMigrator(db);
  expect(names).toContain(DROP);
  return m;
}

async function indexes(db: Kysely<unknown>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'keys'`.execute(db);
  return rows.map((r) => r.name);
}

async function hasTrgm(db: Kysely<unknown>): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_extension where extname = 'pg_trgm'`.execute(db);
  return rows[0]!.n === 1;
}

describe.each(backends)(`migration ${DROP} on %s`, (backend) => {
  const { open } = freshDatabases(backend);

  it('drops keys_first_seen_idx, keys_last_changed_idx and pg_trgm; down() brings them back', async () => {
    const db = await open();
    const m = await migrator(db);
    ok(await m.migrateTo(BEFORE));
    expect(await indexes(db)).toEqual(expect.arrayContaining(['keys_first_seen_idx', 'keys_last_changed_idx']));
    expect(await hasTrgm(db)).toBe(true);
    ok(await m.migrateToLatest());
    const after = await indexes(db);
    expect(after).not.toContain('keys_first_seen_idx');
    expect(after).not.toContain('keys_last_changed_idx');
    expect(after).toContain('keys_fingerprint_key');
    expect(await hasTrgm(db)).toBe(false);
    ok(await m.migrateTo(BEFORE));
    expect(await indexes(db)).toEqual(expect.arrayContaining(['keys_first_seen_idx', 'keys_last_changed_idx']));
    expect(await hasTrgm(db)).toBe(true);
  });

  it('leaves pg_trgm in place when something else depends on it', async () => {
    const db = await open();
    const m = await migrator(db);
    ok(await m.migrateTo(BEFORE));
    await sql`create table other_app (name text)`.execute(db);
    await sql`create index other_app_trgm on other_app using gin (name gin_trgm_ops)`.execute(db);
    ok(await m.migrateToLatest());
    expect(await hasTrgm(db)).toBe(true);
    expect(await indexes(db)).not.toContain('keys_last_changed_idx');
  });
});
