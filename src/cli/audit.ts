// keystore audit: the push audit log (read only: nothing deletes or changes audit rows).
import { InvalidArgumentError, type Command } from 'commander';
import type { Kysely } from 'kysely';
import { AuditRepository, type AuditFilter, type AuditRow } from '../store/auditRepository.js';
import type { Database } from '../store/database.js';
import { openMigratedDatabase, type CliContext } from './context.js';

export function listAudit(db: Kysely<Database>, filter: AuditFilter = {}): Promise<AuditRow[]> {
  return new AuditRepository(db).list(filter);
}

/** A v4 or v6 fingerprint, with or without 0x and spaces, in the upper case the log stores. */
export function parseFingerprint(value: string): string {
  const hex = value.replace(/\s+/g, '').replace(/^0x/i, '').toUpperCase();
  if (!/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(hex)) throw new InvalidArgumentError('expected a key fingerprint of 40 or 64 hex digits');
  return hex;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A time: ISO 8601 (2026-11-21, 2026-11-21T10:00:00Z) or a duration back from now (30m, 24h, 7d). */
export function parseSince(value: string, now = Date.now()): Date {
  const ago = /^(\d+)([smhd])$/.exec(value.trim());
  if (ago) return new Date(now - Number(ago[1]) * UNIT_MS[ago[2]!]!);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new InvalidArgumentError('expected an ISO 8601 time (2026-11-21T10:00:00Z) or a duration such as 24h or 7d');
  return new Date(parsed);
}

function parseLimit(value: string): number {
  if (!/^[1-9][0-9]{0,6}$/.test(value)) throw new InvalidArgumentError('expected a positive whole number');
  return Number(value);
}

/** One line per row: time, outcome, key, who (address, token and its identity), and what changed or why it was refused. */
export function formatAuditRow(row: AuditRow): string {
  const token = row.tokenId ? `token ${row.tokenId}` : row.identity ? 'provider token' : 'no token';
  const who = [row.source === 'import' ? 'import' : `from ${row.remoteAddress ?? '?'}`, token, ...(row.identity ? [`(${row.identity})`] : [])];
  return [row.at.toISOString(), `#${row.id}`, row.outcome.padEnd(9), row.fingerprint ?? '-', who.join(' '), describe(row.detail)].join('  ');
}

function describe(detail: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof detail['reason'] === 'string') parts.push(`reason: ${detail['reason']}`);
  const added = detail['added'] as { userIds?: number; subkeys?: number; signatures?: number } | undefined;
  if (added) parts.push(`added ${added.userIds ?? 0} user IDs, ${added.subkeys ?? 0} subkeys, ${added.signatures ?? 0} signatures`);
  const dropped = detail['dropped'] as { component: string; reason: string }[] | undefined;
  if (dropped?.length) {
    const total = typeof detail['droppedTotal'] === 'number' ? detail['droppedTotal'] : dropped.length;
    parts.push(`dropped ${total}: ${dropped.map((d) => `${d.component} (${d.reason})`).join(', ')}`);
  }
  return parts.join('; ');
}

export function registerAudit(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description('list the push audit log, oldest first (audit rows cannot be changed or deleted)')
    .option('--key <fingerprint>', 'only pushes of this key', parseFingerprint)
    .option('--since <time>', 'only from this time on: ISO 8601, or a duration back from now (24h, 7d)', (v: string) => parseSince(v))
    .option('--limit <n>', 'only the newest n rows', parseLimit)
    .option('--json', 'print one JSON object per row')
    .action(async (options: { key?: string; since?: Date; limit?: number; json?: boolean }) => {
      const database = await openMigratedDatabase(ctx, 'audit');
      try {
        const rows = await listAudit(database.db, { fingerprint: options.key, since: options.since, limit: options.limit });
        for (const row of rows) ctx.print(options.json ? JSON.stringify(row) : formatAuditRow(row));
        if (rows.length === 0 && !options.json) ctx.warn('no audit rows match');
      } finally {
        await database.close();
      }
    });
}
