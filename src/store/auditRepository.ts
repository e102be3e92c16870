// The append-only audit log of pushes: rows are only ever inserted (a trigger refuses UPDATE and DELETE).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { PREPARED, type Database, type PushAuditTable } from './database.js';

export type AuditOutcome = PushAuditTable['outcome'];

export interface AuditEntry {
  source: 'http' | 'import';
  remoteAddress: string | null;
  tokenId: string | null;
  fingerprint: string | null;
  outcome: AuditOutcome;
  detail: Record<string, unknown>;
}

export interface AuditRow extends AuditEntry {
  id: string;
  at: Date;
}

export interface AuditFilter {
  fingerprint?: string | undefined;
  since?: Date | undefined;
  limit?: number | undefined;
}

const INSERT_BATCH = 1000;

/** JSON for a jsonb column, which cannot hold U+0000 (a user ID or reason may contain it): written as U+FFFD. */
function jsonbText(value: unknown): string {
  // An escape preceded by an even number of backslashes is a NUL; after an odd number it is literal text.
  return JSON.stringify(value).replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd');
}

/** The head of an INSERT of audit rows, to be followed by auditRowsSelect. */
export const AUDIT_INSERT = sql`insert into push_audit (source, remote_address, token_id, fingerprint, outcome, detail)`;

/**
 * The column values of audit rows as a SELECT (one JSON parameter, whatever the number of rows), in their order:
 * AUDIT_INSERT followed by it appends them, alone or inside another statement (a key's write, see KeyRepository).
 */
export function auditRowsSelect(entries: AuditEntry[]): RawBuilder<unknown> {
  const rows = entries.map((entry) => ({
    source: entry.source,
    remote_address: entry.remoteAddress,
    token_id: entry.tokenId,
    fingerprint: entry.fingerprint,
    outcome: entry.outcome,
    detail: entry.detail,
  }));
  return sql`select a.source, a.remote_address, a.token_id, a.fingerprint, a.outcome, a.detail
    from json_to_recordset(${jsonbText(rows)}::json)
      as a(source text, remote_address text, token_id bigint, fingerprint text, outcome text, detail jsonb)`;
}

export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Appends rows, a thousand per statement. */
  async record(entries: AuditEntry[]): Promise<void> {
    for (let start = 0; start < entries.length; start += INSERT_BATCH) {
      await sql`${PREPARED}${AUDIT_INSERT} ${auditRowsSelect(entries.slice(start, start + INSERT_BATCH))}`.execute(this.db);
    }
  }

  /** Rows oldest first, optionally for one key (primary fingerprint), from a time on, the newest `limit` only. */
  async list(filter: AuditFilter = {}): Promise<AuditRow[]> {
    const rows = await this.db
      .selectFrom('push_audit')
      .select(['id', 'at', 'source', 'remote_address', 'token_id', 'fingerprint', 'outcome', 'detail'])
      .$if(filter.fingerprint !== undefined, (qb) => qb.where('fingerprint', '=', filter.fingerprint!))
      .$if(filter.since !== undefined, (qb) => qb.where('at', '>=', filter.since!))
      .orderBy('id', 'desc')
      .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit!))
      .execute();
    return rows.reverse().map((r) => ({
      id: String(r.id),
      at: new Date(r.at),
      source: r.source,
      remoteAddress: r.remote_address,
      tokenId: r.token_id === null ? null : String(r.token_id),
      fingerprint: r.fingerprint,
      outcome: r.outcome,
      detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as Record<string, unknown>,
    }));
  }
}
