// Rewrites the page facts of stored (sub)keys (capabilities, revocation reasons) for `keystore refresh-facts`,
// without touching the keys themselves, their revision or the change counters.
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';
import { toBytes } from './keyQueries.js';

export interface IdentifierFacts {
  fingerprint: string;
  capabilities: string;
  revocation: { code: number; text: string } | null;
}

export class IdentifierFactsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stored keys after row `after` in row order, at most `limit`, with their bytes. */
  async keysAfter(after: string, limit: number): Promise<{ row: string; packets: Uint8Array }[]> {
    const rows = await this.db.selectFrom('keys').select(['id', 'packets']).where('id', '>', after).orderBy('id').limit(limit).execute();
    return rows.map((r) => ({ row: String(r.id), packets: toBytes(r.packets) }));
  }

  /** Sets the facts of these (sub)keys of stored keys, in one statement. */
  async write(rows: { row: string; facts: IdentifierFacts }[]): Promise<void> {
    if (rows.length === 0) return;
    const values = JSON.stringify(
      rows.map(({ row, facts }) => ({
        key_row: row,
        fingerprint: facts.fingerprint,
        capabilities: facts.capabilities,
        revocation_code: facts.revocation?.code ?? null,
        revocation_reason: facts.revocation?.text ?? null,
      })),
    );
    await sql`
      update key_identifiers i set capabilities = v.capabilities, revocation_code = v.revocation_code, revocation_reason = v.revocation_reason
      from jsonb_to_recordset(${values}::jsonb) as v(key_row bigint, fingerprint text, capabilities text, revocation_code smallint, revocation_reason text)
      where i.key_row = v.key_row and i.fingerprint = v.fingerprint`.execute(this.db);
  }
}
