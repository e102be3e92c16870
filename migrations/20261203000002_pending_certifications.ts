// Third-party certifications whose issuer's key is not stored yet, kept aside (never served) until it is, then
// admitted into the certified key in the transaction that stores the issuer (docs/certifications.md).
// One counter row holds their number, so the bound on the total is checked without counting the table.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('pending_certifications')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    // The certified key (stored: a certification is only kept aside for a user ID its key binds).
    .addColumn('key_fingerprint', 'text', (c) => c.notNull())
    // SHA-256 (hex) of the certified user ID or photo ID packet (tag and body).
    .addColumn('user_id_digest', 'text', (c) => c.notNull())
    // Long key ID of the issuer the signature names, and its fingerprint when the signature gives it.
    .addColumn('issuer_key_id', 'text', (c) => c.notNull())
    .addColumn('issuer_fingerprint', 'text')
    // The signature packet's body, normalised as stored on keys; its SHA-256 (hex) for de-duplication.
    .addColumn('signature', 'bytea', (c) => c.notNull())
    .addColumn('signature_digest', 'text', (c) => c.notNull())
    .addColumn('created', 'bigint', (c) => c.notNull())
    .addColumn('received', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('pending_certifications_identity_idx').unique().on('pending_certifications')
    .columns(['key_fingerprint', 'user_id_digest', 'signature_digest']).execute();
  await db.schema.createIndex('pending_certifications_issuer_key_id_idx').on('pending_certifications').column('issuer_key_id').execute();

  await db.schema
    .createTable('pending_certification_count')
    .addColumn('id', 'smallint', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('count', 'bigint', (c) => c.notNull())
    .execute();
  await sql`insert into pending_certification_count (id, count) values (1, 0)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('pending_certification_count').execute();
  await db.schema.dropTable('pending_certifications').execute();
}
