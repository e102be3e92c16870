// What a key's page shows of each (sub)key beyond the lookup facts: its capabilities (from the key flags, or the
// algorithm for keys without them) and a revocation's reason. Derived at import like the other facts; rows
// written before this migration keep null until `keystore refresh-facts` derives them from the stored packets.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table key_identifiers add column capabilities text, add column revocation_code smallint, add column revocation_reason text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table key_identifiers drop column capabilities, drop column revocation_code, drop column revocation_reason`.execute(db);
}
