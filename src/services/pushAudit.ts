// What the audit log records about a push: per key its outcome, what was added and dropped, or why it was refused.
import type { Dropped } from '../openpgp/index.js';
import type { AuditEntry, AuditOutcome } from '../store/auditRepository.js';
import type { AuthenticatedToken } from './accessService.js';

/** Who pushed: the part of a submit context the audit log keeps (a token's id and identity, never its secret). */
export interface PushOrigin {
  source: 'http' | 'import';
  remoteAddress?: string | undefined;
  token?: AuthenticatedToken | null | undefined;
}

export interface AddedComponents {
  userIds: number;
  subkeys: number;
  signatures: number;
}

// A flooded key can drop thousands of components: the log keeps the first ones and the total.
const MAX_DROPPED_LISTED = 100;
const MAX_REASONS_LISTED = 20;

type AcceptedOutcome = Parameters<typeof acceptedEntry>[1];

/**
 * The audit rows of one push: a row per key (by fingerprint), and one row for all the parts of the upload that
 * named no key (unreadable data, malformed primary keys), so that junk uploads of thousands of parts cost one row,
 * not thousands. A key's write may carry the rows so far (withUnwritten), in the key's own transaction; the rest
 * are written together at the end of the push (entries).
 */
export class PushAuditBatch {
  private readonly rows: AuditEntry[] = [];
  private readonly unidentified: string[] = [];
  /** The rows before this index were written with a key. */
  private written = 0;

  constructor(private readonly origin: PushOrigin) {}

  /** Records a key's outcome; `written`: its row and all before it were written with the key (withUnwritten). */
  accepted(outcome: AcceptedOutcome, written = false): void {
    this.rows.push(acceptedEntry(this.origin, outcome));
    if (written) this.written = this.rows.length;
  }

  /** The rows not written yet, in order, then the row accepted(outcome) adds: for the key's write to carry. */
  withUnwritten(outcome: AcceptedOutcome): AuditEntry[] {
    return [...this.rows.slice(this.written), acceptedEntry(this.origin, outcome)];
  }

  refused(fingerprint: string | null, reason: string): void {
    if (fingerprint === null) this.unidentified.push(reason);
    else this.rows.push(refusedEntry(this.origin, fingerprint, reason));
  }

  /** The rows not written yet: the push's rows in order, the one for the parts that named no key last. */
  entries(): AuditEntry[] {
    const rows = this.rows.slice(this.written);
    if (this.unidentified.length === 0) return rows;
    if (this.unidentified.length === 1) return [...rows, refusedEntry(this.origin, null, this.unidentified[0]!)];
    const counts = new Map<string, number>();
    for (const reason of this.unidentified) counts.set(reason, (counts.get(reason) ?? 0) + 1);
    const reasons = [...counts].slice(0, MAX_REASONS_LISTED).map(([reason, count]) => ({ reason, count }));
    return [
      ...rows,
      {
        ...who(this.origin),
        fingerprint: null,
        outcome: 'refused',
        detail: { reason: `${this.unidentified.length} parts of the upload held no usable key`, reasons },
      },
    ];
  }
}

function acceptedEntry(
  origin: PushOrigin,
  outcome: { status: Exclude<AuditOutcome, 'refused'>; fingerprint: string; added: AddedComponents; dropped: Dropped[] },
): AuditEntry {
  return {
    ...who(origin),
    fingerprint: outcome.fingerprint,
    outcome: outcome.status,
    detail: { added: outcome.added, ...droppedDetail(outcome.dropped) },
  };
}

function refusedEntry(origin: PushOrigin, fingerprint: string | null, reason: string): AuditEntry {
  return { ...who(origin), fingerprint, outcome: 'refused', detail: { reason } };
}

function who(origin: PushOrigin) {
  return {
    source: origin.source,
    remoteAddress: origin.remoteAddress ?? null,
    tokenId: origin.token?.id ?? null,
    identity: origin.token?.identity ?? null,
  };
}

function droppedDetail(dropped: Dropped[]) {
  if (dropped.length === 0) return {};
  return {
    dropped: dropped.slice(0, MAX_DROPPED_LISTED).map((d) => ({ component: d.component, reason: d.reason })),
    ...(dropped.length > MAX_DROPPED_LISTED ? { droppedTotal: dropped.length } : {}),
  };
}
