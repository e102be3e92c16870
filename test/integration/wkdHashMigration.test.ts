// The migration adding user_ids.wkd_hash fills it for the user IDs stored before it, as imports now write it.
import { readdir } from 'node:fs/promises';
import { Migrator, sql, type Migration } from 'kysely';
import { describe, expect, it } from 'vitest';
import { wkdHashOfAddress } from '../../src/formats/wkdHash.js';
import { openDatabase } from '../../src/store/database.js';
import { backends, createTestDatabase } from '../helpers/server.js';

const FOLDER = new URL('../../migrations/', import.meta.url);
const NAME = '20261203000006_wkd_hash';

async function migrations(): Promise<Record<string, Migration>> {
  const out: Record<string, Migration> = {};
  for (const file of (await readdir(FOLDER)).sort()) {
    if (file.endsWith('.ts')) out[file.replace(/\.ts$/, '')] = (await import(new URL(file, FOLDER).href)) as Migration;
  }
  return out;
}

describe.each(backends)('the wkd_hash migration on %s', (backend) => {
  it('fills the hash of every stored user ID with an address, in batches, and indexes it', { timeout: 180_000 }, async () => {
    const target = await createTestDatabase(backend);
    const database = await openDatabase({ url: target.url, dataDir: 'memory://' });
    try {
      const all = await migrations();
      const names = Object.keys(all);
      const before = names[names.indexOf(NAME) - 1]!;
      const migrator = new Migrator({ db: database.db, provider: { getMigrations: async () => all } });
      expect((await migrator.migrateTo(before)).error).toBeUndefined();
      await sql`insert into keys (id, fingerprint, key_id, version, algorithm, bits, created, revoked, packets, size, user_id_count,
        user_attribute_count, subkey_count, signature_count, signature_facts) values (1, 'F', 'K', 4, 22, 255, 0, false, '\\x00', 1, 1, 0, 0, 0, '{}')`.execute(
        database.db,
      );
      // More rows than one batch of the migration (1000), some without an address.
      const uids = Array.from({ length: 1050 }, (_, i) => (i % 100 === 7 ? `No address ${i}` : `User ${i} <User.${i}@Example.org>`));
      await sql`insert into user_ids (key_row, position, uid, email, created, revoked, is_primary)
        select 1, r.position, r.uid, r.email, 0, false, false
        from json_to_recordset(${JSON.stringify(uids.map((uid, position) => ({ position, uid, email: uid.includes('@') ? 'x' : null })))}::json)
          as r(position integer, uid text, email text)`.execute(database.db);
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const rows = (
        await sql<{ position: number; wkd_hash: string | null }>`select position, wkd_hash from user_ids order by position`.execute(database.db)
      ).rows;
      expect(rows).toHaveLength(uids.length);
      for (const row of rows) {
        const uid = uids[row.position]!;
        expect(row.wkd_hash, uid).toBe(uid.includes('@') ? wkdHashOfAddress(`User.${row.position}@Example.org`) : null);
      }
      const plan = (await sql<{ indexname: string }>`select indexname from pg_indexes where tablename = 'user_ids'`.execute(database.db)).rows;
      expect(plan.map((r) => r.indexname)).toContain('user_ids_wkd_hash_idx');
    } finally {
      await database.close();
      await target.drop();
    }
  });
});
