// Identities: what stands between `<` and `>` in a user ID, an e-mail address or a site's account name (HPC centres
// put the account name there). user_ids.identity holds each user ID's identity in normal form (NFC, trimmed, lower
// case), written at import; existing rows are filled here in batches. Access tokens belong to an identity rather than
// to an e-mail address (the column is renamed: every address stored is an identity already), and each audit row
// names the identity that pushed, since a token from the site's identity provider has no row in access_tokens.
import { sql, type Kysely } from 'kysely';

// Rows read and rewritten per statement while filling identities for existing user IDs.
const BATCH = 1000;

const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;
const NOT_IN_IDENTITY = /[\s<>\u0000-\u001f\u007f]/u;

/**
 * A frozen copy of identityOf (src/openpgp/derive.ts) as of this migration: migrations never import app code, so
 * the schema history stays reproducible whatever the app later becomes. A unit test checks that the two agree.
 */
export function identityOfV1(userId: string): string | null {
  const normalize = (text: string) => {
    const normal = text.normalize('NFC').trim().toLowerCase();
    return normal.length === 0 || normal.length > 254 || NOT_IN_IDENTITY.test(normal) ? null : normal;
  };
  const bracketed = /<([^<>]*)>\s*$/.exec(userId) ?? /<([^<>]*@[^<>]*)>/.exec(userId);
  if (bracketed) return normalize(bracketed[1]!);
  return EMAIL.test(userId.trim()) ? normalize(userId) : null;
}

interface UidRow {
  key_row: string | number | bigint;
  position: number;
  uid: string;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table user_ids add column identity text`.execute(db);

  // Keyset batches in (key_row, position) order, as the words migration does; only rows with an identity are written.
  let after: { keyRow: string; position: number } | null = null;
  for (;;) {
    const rows: UidRow[] = (
      await (after === null
        ? sql<UidRow>`select key_row, position, uid from user_ids order by key_row, position limit ${BATCH}`
        : sql<UidRow>`select key_row, position, uid from user_ids
            where (key_row, position) > (${after.keyRow}::bigint, ${after.position}::integer)
            order by key_row, position limit ${BATCH}`
      ).execute(db)
    ).rows;
    if (rows.length === 0) break;
    const batch = rows.flatMap((r) => {
      const identity = identityOfV1(r.uid);
      return identity === null ? [] : [{ key_row: String(r.key_row), position: r.position, identity }];
    });
    if (batch.length > 0) {
      await sql`
        update user_ids u set identity = b.identity
        from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as b(key_row bigint, position integer, identity text)
        where u.key_row = b.key_row and u.position = b.position`.execute(db);
    }
    const last = rows[rows.length - 1]!;
    after = { keyRow: String(last.key_row), position: last.position };
    if (rows.length < BATCH) break;
  }
  await sql`create index user_ids_identity_idx on user_ids (identity)`.execute(db);

  await sql`alter table access_tokens rename column email to identity`.execute(db);
  // Old rows name their token only; their identity is the token's (access_tokens.identity never changes).
  await sql`alter table push_audit add column identity text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table push_audit drop column identity`.execute(db);
  await sql`alter table access_tokens rename column identity to email`.execute(db);
  await sql`drop index if exists user_ids_identity_idx`.execute(db);
  await sql`alter table user_ids drop column identity`.execute(db);
}
