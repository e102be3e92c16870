// Web Key Directory lookups name an address by the hash of its local part (z-base-32 of SHA-1, 32 characters),
// often without the address itself: user_ids.wkd_hash holds it, written at import, indexed. Existing rows are
// filled here, in batches, by a frozen copy of the app's derivation (migrations never import app code).
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

const BATCH = 1000;
const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';
const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;
// As src/store/keyRepository.ts: longer e-mails are not indexed, nor are their hashes.
const MAX_INDEXED_EMAIL = 254;

/** A frozen copy of src/openpgp/derive.ts's address and src/formats/wkdHash.ts's hash as of this migration. */
export function wkdHashV1(userId: string): string | null {
  const bracketed = /<([^<>]*)>\s*$/.exec(userId) ?? /<([^<>]*@[^<>]*)>/.exec(userId);
  const address = (bracketed ? bracketed[1]! : userId).trim();
  if (!EMAIL.test(address) || address.length > MAX_INDEXED_EMAIL) return null;
  const local = address.slice(0, address.lastIndexOf('@')).replace(/[A-Z]+/g, (s) => s.toLowerCase());
  const digest = createHash('sha1').update(local, 'utf8').digest();
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of digest) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ZBASE32[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) out += ZBASE32[(buffer << (5 - bits)) & 31];
  return out;
}

interface UidRow {
  key_row: string | number | bigint;
  position: number;
  uid: string;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table user_ids add column wkd_hash text`.execute(db);
  let after: { keyRow: string; position: number } | null = null;
  for (;;) {
    const rows: UidRow[] = (
      await (after === null
        ? sql<UidRow>`select key_row, position, uid from user_ids where email is not null order by key_row, position limit ${BATCH}`
        : sql<UidRow>`select key_row, position, uid from user_ids where email is not null
            and (key_row, position) > (${after.keyRow}::bigint, ${after.position}::integer)
            order by key_row, position limit ${BATCH}`
      ).execute(db)
    ).rows;
    if (rows.length === 0) break;
    const batch = rows.map((r) => ({ key_row: String(r.key_row), position: r.position, wkd_hash: wkdHashV1(r.uid) }));
    await sql`
      update user_ids u set wkd_hash = b.wkd_hash
      from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as b(key_row bigint, position integer, wkd_hash text)
      where u.key_row = b.key_row and u.position = b.position`.execute(db);
    const last = batch[batch.length - 1]!;
    after = { keyRow: last.key_row, position: last.position };
    if (rows.length < BATCH) break;
  }
  await sql`create index user_ids_wkd_hash_idx on user_ids (wkd_hash) where wkd_hash is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists user_ids_wkd_hash_idx`.execute(db);
  await sql`alter table user_ids drop column wkd_hash`.execute(db);
}
