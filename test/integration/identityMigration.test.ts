// The identities migration on a database holding data from before it: user IDs get their identity, tokens keep
// their (e-mail) identity under the new column name, and old audit rows show their token's identity.
import { Migrator, sql, type Migration } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as initial from '../../migrations/20261121000000_initial_schema.js';
import * as tokensAndAudit from '../../migrations/20261121010000_tokens_and_audit.js';
import * as userIdWords from '../../migrations/20261121020000_user_id_words.js';
import { listAudit } from '../../src/cli/audit.js';
import { parseSearch } from '../../src/services/search.js';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { KeyQueries } from '../../src/store/keyQueries.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { backends, createTestDatabase, type TestDatabase } from '../helpers/server.js';

const BEFORE: Record<string, Migration> = {
  '20261121000000_initial_schema': initial,
  '20261121010000_tokens_and_audit': tokensAndAudit,
  '20261121020000_user_id_words': userIdWords,
};

describe.each(backends)('the identities migration on %s', (backend) => {
  let store: TestDatabase;
  let database: DatabaseHandle;

  beforeAll(async () => {
    store = await createTestDatabase(backend);
    database = await openDatabase({ url: store.url, dataDir: 'memory://' });
    const before = await new Migrator({ db: database.db, provider: { getMigrations: async () => BEFORE } }).migrateToLatest();
    expect(before.error).toBeUndefined();
  });
  afterAll(async () => {
    await database?.close();
    await store?.drop();
  });

  it("fills user_ids.identity for rows stored before, renames the tokens' column, and keeps old audit rows readable", async () => {
    const db = database.db;
    const uids = ['山田太郎 (test key 03) <AAA12345xy>', 'Alice <Alice@Example.org>', 'No Identity', 'bob@example.org'];
    const key = await sql<{ id: string }>`insert into keys (fingerprint, key_id, version, algorithm, bits, created, revoked, packets, size,
        user_id_count, user_attribute_count, subkey_count, signature_count, signature_facts)
      values (${'A'.repeat(40)}, ${'A'.repeat(16)}, 4, 22, 255, 1600000000, false, ${new Uint8Array([1])}, 1, 4, 0, 0, 4, '{}')
      returning id`.execute(db);
    const row = key.rows[0]!.id;
    for (const [position, uid] of uids.entries()) {
      await sql`insert into user_ids (key_row, position, uid, email, words, created, revoked, is_primary)
        values (${row}, ${position}, ${uid}, null, ${sql.val(
          uid
            .toLowerCase()
            .split(/[^\p{L}\p{N}]+/u)
            .filter(Boolean),
        )}::text[],
          1600000000, false, ${position === 0})`.execute(db);
    }
    const token = await sql<{ id: string }>`insert into access_tokens (secret_sha256, email) values (${'0'.repeat(64)}, 'alice@example.org')
      returning id`.execute(db);
    await sql`insert into push_audit (source, token_id, fingerprint, outcome, detail)
      values ('http', ${token.rows[0]!.id}, ${'A'.repeat(40)}, 'inserted', '{}')`.execute(db);

    await migrateToLatest(db);

    const identities = await sql<{ identity: string | null }>`select identity from user_ids where key_row = ${row} order by position`.execute(db);
    expect(identities.rows.map((r) => r.identity)).toEqual(['aaa12345xy', 'alice@example.org', null, 'bob@example.org']);
    const tokens = await sql<{ identity: string }>`select identity from access_tokens`.execute(db);
    expect(tokens.rows).toEqual([{ identity: 'alice@example.org' }]);
    const [audit] = await listAudit(database.db, { fingerprint: 'A'.repeat(40) });
    expect(audit).toMatchObject({ tokenId: String(token.rows[0]!.id), identity: 'alice@example.org' });
    const found = await new KeyQueries(database.db).count(parseSearch('<aaa12345xy>', false), [4]);
    expect(found).toBe(1);
  });
});
