// Keys, their (sub)key identifiers and user IDs. Each lookup form has an index:
// fingerprint / long key ID / short key ID (primary and subkeys) on key_identifiers,
// e-mail and user-ID text (trigram) on user_ids. OpenPGP times are Unix seconds (bigint).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create extension if not exists pg_trgm`.execute(db);

  await db.schema
    .createTable('keys')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('version', 'smallint', (c) => c.notNull())
    .addColumn('algorithm', 'smallint', (c) => c.notNull())
    .addColumn('bits', 'integer', (c) => c.notNull())
    .addColumn('created', 'bigint', (c) => c.notNull())
    .addColumn('expires', 'bigint')
    .addColumn('revoked', 'boolean', (c) => c.notNull())
    .addColumn('packets', 'bytea', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('user_id_count', 'integer', (c) => c.notNull())
    .addColumn('user_attribute_count', 'integer', (c) => c.notNull())
    .addColumn('subkey_count', 'integer', (c) => c.notNull())
    .addColumn('signature_count', 'integer', (c) => c.notNull())
    .addColumn('primary_user_id', 'text')
    // Signature facts per user ID and subkey (type, issuer, date) for vindex, computed at import.
    .addColumn('signature_facts', 'jsonb', (c) => c.notNull())
    // Compare-and-swap counter: concurrent merges of one key retry instead of overwriting each other.
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('first_seen', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_changed', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('keys_last_changed_idx').on('keys').column('last_changed').execute();
  await db.schema.createIndex('keys_first_seen_idx').on('keys').column('first_seen').execute();

  // One row per primary key and per subkey: every fingerprint and key ID a lookup can name.
  await db.schema
    .createTable('key_identifiers')
    .addColumn('key_row', 'bigint', (c) => c.notNull().references('keys.id').onDelete('cascade'))
    .addColumn('is_primary', 'boolean', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('long_id', 'text', (c) => c.notNull())
    .addColumn('short_id', 'text', (c) => c.notNull())
    .addColumn('algorithm', 'smallint', (c) => c.notNull())
    .addColumn('bits', 'integer', (c) => c.notNull())
    .addColumn('created', 'bigint', (c) => c.notNull())
    .addColumn('expires', 'bigint')
    .addColumn('revoked', 'boolean', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('key_identifiers_key_row_idx').on('key_identifiers').column('key_row').execute();
  await db.schema.createIndex('key_identifiers_fingerprint_idx').on('key_identifiers').column('fingerprint').execute();
  await db.schema.createIndex('key_identifiers_long_id_idx').on('key_identifiers').column('long_id').execute();
  await db.schema.createIndex('key_identifiers_short_id_idx').on('key_identifiers').column('short_id').execute();

  // Inserted/updated counts per hour, kept up to date by every write: op=stats never scans keys.
  await db.schema
    .createTable('key_stats_hourly')
    .addColumn('hour', 'timestamptz', (c) => c.primaryKey())
    .addColumn('inserted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('user_ids')
    .addColumn('key_row', 'bigint', (c) => c.notNull().references('keys.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('uid', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('created', 'bigint', (c) => c.notNull())
    .addColumn('expires', 'bigint')
    .addColumn('revoked', 'boolean', (c) => c.notNull())
    .addColumn('is_primary', 'boolean', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('user_ids_key_row_idx').on('user_ids').column('key_row').execute();
  await db.schema.createIndex('user_ids_email_idx').on('user_ids').column('email').execute();
  // Whole-ID matches (exact=on) of any length: a hash index has no btree row-size limit.
  await sql`create index user_ids_uid_lower_idx on user_ids using hash (lower(uid))`.execute(db);
  // Word searches: trigram index serves ILIKE '%word%' on the lower-cased text.
  await sql`create index user_ids_uid_trgm_idx on user_ids using gin (lower(uid) gin_trgm_ops)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('user_ids').execute();
  await db.schema.dropTable('key_stats_hourly').execute();
  await db.schema.dropTable('key_identifiers').execute();
  await db.schema.dropTable('keys').execute();
}
