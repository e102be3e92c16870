// Access tokens (only a SHA-256 of each secret is stored) and the append-only audit log of pushes.
// A trigger refuses UPDATE, DELETE and TRUNCATE on audit rows, so not even a faulty server can rewrite them.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('access_tokens')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    // Hex SHA-256 of the secret: secrets are 256-bit random values, so a fast hash is enough.
    .addColumn('secret_sha256', 'text', (c) => c.notNull().unique())
    // Lower-case e-mail address the token belongs to: keys pushed with it must carry this address.
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('created', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('last_used', 'timestamptz')
    .execute();

  await db.schema
    .createTable('push_audit')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('http', 'import')`))
    .addColumn('remote_address', 'text')
    .addColumn('token_id', 'bigint', (c) => c.references('access_tokens.id'))
    .addColumn('fingerprint', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in ('inserted', 'updated', 'unchanged', 'refused')`))
    // Components added (counts), components dropped with their reasons, and the reason of a refusal.
    .addColumn('detail', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('push_audit_fingerprint_idx').on('push_audit').columns(['fingerprint', 'id']).execute();
  await db.schema.createIndex('push_audit_at_idx').on('push_audit').column('at').execute();

  await sql`
    create function push_audit_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'push_audit is append-only: % is not allowed', tg_op using errcode = 'insufficient_privilege';
    end
    $$`.execute(db);
  await sql`create trigger push_audit_no_update_delete before update or delete on push_audit
    for each row execute function push_audit_append_only()`.execute(db);
  await sql`create trigger push_audit_no_truncate before truncate on push_audit
    for each statement execute function push_audit_append_only()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('push_audit').execute();
  await sql`drop function if exists push_audit_append_only()`.execute(db);
  await db.schema.dropTable('access_tokens').execute();
}
