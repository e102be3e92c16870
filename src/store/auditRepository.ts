// The append-only audit log of pushes: rows are only ever inserted (a trigger refuses UPDATE and DELETE).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { PREPARED, type Database, type PushAuditTable } from './database.js';

export type AuditOutcome = PushAuditTable['outcome'];

export interface AuditEntry {
  source: 'http' | 'import';
  remoteAddress: string | null;
  tokenId: string | null;
  /** The identity of the token that pushed (a local token's, or the identity provider's claim); null without one. */
  identity: string | null;
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
  const json = JSON.stringify(value);
  // Most rows have no escaped NUL: the text is then as it is (the look-behind replace costs more than the test).
  return json.includes('\\u0000') ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : json;
}

/** The head of an INSERT of audit rows, to be followed by auditRowsSelect. */
export const AUDIT_INSERT = sql`insert into push_audit (source, remote_address, token_id, identity, fingerprint, outcome, detail)`;

/**
 * The column values of audit rows as a SELECT (one JSON parameter, whatever the number of rows), in their order:
 * AUDIT_INSERT followed by it appends them, alone or inside another statement (a key's write, see KeyRepository).
 */
export function auditRowsSelect(entries: AuditEntry[]): RawBuilder<unknown> {
  const rows = entries.map((entry) => ({
    source: entry.source,
    remote_address: entry.remoteAddress,
    token_id: entry.tokenId,
    identity: entry.identity,
    fingerprint: entry.fingerprint,
    outcome: entry.outcome,
    detail: entry.detail,
  }));
  return sql`select a.source, a.remote_address, a.token_id, a.identity, a.fingerprint, a.outcome, a.detail
    from json_to_recordset(${jsonbText(rows)}::json)
      as a(source text, remote_address text, token_id bigint, identity text, fingerprint text, outcome text, detail jsonb)`;
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
    // Rows written before identities were recorded name their local token only: its identity never changes.
    const rows = await this.db
      .selectFrom('push_audit')
      .leftJoin('access_tokens', 'access_tokens.id', 'push_audit.token_id')
      .select([
        'push_audit.id',
        'push_audit.at',
        'push_audit.source',
        'push_audit.remote_address',
        'push_audit.token_id',
        'push_audit.fingerprint',
        'push_audit.outcome',
        'push_audit.detail',
      ])
      .select((eb) => eb.fn.coalesce('push_audit.identity', 'access_tokens.identity').as('identity'))
      .$if(filter.fingerprint !== undefined, (qb) => qb.where('push_audit.fingerprint', '=', filter.fingerprint!))
      .$if(filter.since !== undefined, (qb) => qb.where('push_audit.at', '>=', filter.since!))
      .orderBy('push_audit.id', 'desc')
      .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit!))
      .execute();
    return rows.reverse().map((r) => ({
      id: String(r.id),
      at: new Date(r.at),
      source: r.source,
      remoteAddress: r.remote_address,
      tokenId: r.token_id === null ? null : String(r.token_id),
      identity: r.identity,
      fingerprint: r.fingerprint,
      outcome: r.outcome,
      detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as Record<string, unknown>,
    }));
  }
}
