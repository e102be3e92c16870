// Finding keys: op=get (key bytes), op=index/vindex (facts), op=stats. Never parses a key.
import { AppError } from '../errors.js';
import type { KeyReader } from '../store/keyStore.js';
import type { FoundKey, IndexRow, KeyQuery } from '../vocabulary.js';
import type { StatsRepository, StoreStats } from '../store/statsRepository.js';
import { decodePageToken, encodePageToken } from './pageToken.js';

// gpg 2.2 cannot read v6 keys: the legacy /pks/lookup path serves v4 only.
const LEGACY_VERSIONS = [4];

export interface IndexSignatureView {
  type: number;
  issuerKeyId: string | null;
  created: number;
  issuerUserId: string | null;
}

export interface IndexResult {
  keys: IndexRow[];
  /** Total number of matches, all pages together. */
  total: number;
  nextPageToken: string | null;
  /** vindex only: signatures per key fingerprint, with issuers named when stored here. */
  signatures?: Map<string, { userIds: IndexSignatureView[][]; subkeys: IndexSignatureView[][] }>;
}

export interface PageRequest {
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

export interface ServerStats extends StoreStats {
  version: string;
  started: string;
}

/** What the HKP lookup handler needs of LookupService (a test passes a fake of it). */
export type KeyLookups = Pick<LookupService, 'get' | 'index' | 'stats'>;

export class LookupService {
  private readonly started = new Date().toISOString();

  constructor(
    private readonly queries: KeyReader,
    private readonly stats_: Pick<StatsRepository, 'stats'>,
    private readonly options: { maxResults: number; version: string },
  ) {}

  /** The matching keys' bytes (op=get), at most maxResults. */
  async get(query: KeyQuery): Promise<FoundKey[]> {
    const found = await this.queries.packets(query, { offset: 0, limit: this.options.maxResults, versions: LEGACY_VERSIONS });
    if (found.length === 0) throw new AppError(404, 'not_found', 'no key matches the search');
    return found;
  }

  async index(query: KeyQuery, page: PageRequest, verbose: boolean): Promise<IndexResult> {
    const limit = Math.min(page.pageSize ?? this.options.maxResults, this.options.maxResults);
    const offset = page.pageToken ? decodePageToken(page.pageToken) : 0;
    const keys = await this.queries.index(query, { offset, limit, versions: LEGACY_VERSIONS });
    // A page that is not full, after the first matches, tells the total without counting (most searches).
    const total = keys.length < limit && (keys.length > 0 || offset === 0) ? offset + keys.length : await this.queries.count(query, LEGACY_VERSIONS);
    if (total === 0) throw new AppError(404, 'not_found', 'no key matches the search');
    const nextPageToken = offset + keys.length < total ? encodePageToken(offset + keys.length) : null;
    const result: IndexResult = { keys, total, nextPageToken };
    if (verbose) result.signatures = await this.signatures(keys);
    return result;
  }

  private async signatures(keys: IndexRow[]): Promise<NonNullable<IndexResult['signatures']>> {
    const issuers = new Set<string>();
    for (const k of keys) {
      for (const list of [...k.signatureFacts.userIds, ...k.signatureFacts.subkeys]) {
        for (const s of list) if (s.issuer) issuers.add(s.issuer);
      }
    }
    const names = await this.queries.primaryUserIds([...issuers]);
    const view = (list: IndexRow['signatureFacts']['userIds'][number]) =>
      list.map((s) => ({ type: s.type, issuerKeyId: s.issuer, created: s.created, issuerUserId: s.issuer ? (names.get(s.issuer) ?? null) : null }));
    return new Map(
      keys.map((k) => [
        k.fingerprint,
        {
          userIds: k.signatureFacts.userIds.map(view),
          subkeys: k.signatureFacts.subkeys.map(view),
        },
      ]),
    );
  }

  async stats(): Promise<ServerStats> {
    return { version: this.options.version, started: this.started, ...(await this.stats_.stats()) };
  }
}
