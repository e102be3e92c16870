// The directory as people browse it: one key's page, the newest keys, statistics with per-day counts.
// Everything comes from facts derived at import; a page never parses or verifies a key.
import { AppError } from '../errors.js';
import type { DirectoryQueries, IssuerRow, KeyPageRow, KeySummaryRow } from '../store/directoryQueries.js';
import type { SignatureFact } from '../vocabulary.js';
import type { StatsRepository, StoreStats } from '../store/statsRepository.js';

export type { DirectorySubkey, DirectoryUserId, KeyPageRow, KeySummaryRow, RevocationFact } from '../store/directoryQueries.js';

/** One signature on a user ID, with its issuer named when the issuer's key is stored here. */
export interface SignatureView {
  type: number;
  issuerKeyId: string | null;
  created: number;
  /** Made by the key itself. */
  self: boolean;
  issuer: IssuerRow | null;
}

export interface KeyPage extends KeyPageRow {
  /** Signatures per user ID, aligned with userIds. */
  userIdSignatures: SignatureView[][];
}

export interface Listing {
  keys: KeySummaryRow[];
  /** 1-based. */
  page: number;
  pageSize: number;
  hasNext: boolean;
  /** Keys stored, from the change counters (never a count over the keys). */
  total: number;
}

export interface DayCount {
  /** YYYY-MM-DD (UTC). */
  day: string;
  inserted: number;
  updated: number;
}

export interface Statistics extends StoreStats {
  version: string;
  started: string;
  /** The last CHART_DAYS days, oldest first, every day present (zero when nothing changed). */
  perDay: DayCount[];
}

const CHART_DAYS = 30;
const DAY_MS = 86_400_000;

export class DirectoryService {
  constructor(
    private readonly queries: DirectoryQueries,
    private readonly stats: StatsRepository,
    private readonly options: { pageSize: number; version: string; started: string },
  ) {}

  /**
   * The page of the key with this fingerprint (upper case). A subkey's fingerprint answers with its key's
   * fingerprint to go to instead.
   */
  async keyPage(fingerprint: string): Promise<KeyPage | { moved: string }> {
    const key = await this.queries.keyPage(fingerprint);
    if (!key) {
      const primary = await this.queries.primaryFingerprintOf(fingerprint);
      if (primary !== null && primary !== fingerprint) return { moved: primary };
      throw new AppError(404, 'not_found', `no key with fingerprint ${fingerprint} is stored here`);
    }
    const issuerIds = new Set<string>();
    for (const list of key.signatureFacts.userIds) for (const s of list) if (s.issuer && s.issuer !== key.keyId) issuerIds.add(s.issuer);
    const issuers = await this.queries.issuers([...issuerIds]);
    const view = (s: SignatureFact): SignatureView => ({
      type: s.type,
      issuerKeyId: s.issuer,
      created: s.created,
      self: s.issuer === key.keyId,
      issuer: s.issuer ? (issuers.get(s.issuer) ?? null) : null,
    });
    return { ...key, userIdSignatures: key.userIds.map((_, i) => (key.signatureFacts.userIds[i] ?? []).map(view)) };
  }

  /** A stored key's bytes, as stored (binary packets). */
  async download(fingerprint: string): Promise<Uint8Array> {
    const packets = await this.queries.packets(fingerprint);
    if (!packets) throw new AppError(404, 'not_found', `no key with fingerprint ${fingerprint} is stored here`);
    return packets;
  }

  /** One page (1-based) of the newest keys. */
  async listing(page: number): Promise<Listing> {
    const { pageSize } = this.options;
    const [rows, total] = await Promise.all([this.queries.newest((page - 1) * pageSize, pageSize + 1), this.stats.totalKeys()]);
    if (rows.length === 0 && page > 1) throw new AppError(404, 'not_found', `there is no page ${page} of the key listing`);
    return { keys: rows.slice(0, pageSize), page, pageSize, hasNext: rows.length > pageSize, total };
  }

  async statistics(now: Date = new Date()): Promise<Statistics> {
    const [stats, counts] = await Promise.all([this.stats.stats(), this.queries.dailyCounts(CHART_DAYS)]);
    return { version: this.options.version, started: this.options.started, ...stats, perDay: everyDay(counts, now, CHART_DAYS) };
  }
}

/** The last `days` days up to now's (UTC), each with its counts or zeros. */
export function everyDay(counts: DayCount[], now: Date, days: number): DayCount[] {
  const byDay = new Map(counts.map((c) => [c.day, c]));
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: days }, (_, i) => {
    const day = new Date(today - (days - 1 - i) * DAY_MS).toISOString().slice(0, 10);
    return byDay.get(day) ?? { day, inserted: 0, updated: 0 };
  });
}
