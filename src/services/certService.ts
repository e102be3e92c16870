// Lookups of the newer APIs (HKP v2, VKS, Web Key Directory): like LookupService, from indexed columns only,
// but v6 keys are served too (their clients read RFC 9580), and an address names one key: the newest valid.
import { AppError } from '../errors.js';
import { keyForAddress } from '../openpgp/index.js';
import type { AddressMatch, AddressQueries } from '../store/addressQueries.js';
import type { KeyReader } from '../store/keyStore.js';
import type { FoundKey, IndexRow, KeyQuery } from '../vocabulary.js';
import type { AccessPolicy } from './accessService.js';

/** Key versions the newer APIs serve. */
export const MODERN_VERSIONS = [4, 6];
/** HKP v2's by-keyid names v4 keys only (the draft: a v6 key ID is not unique enough to be asked for). */
export const KEY_ID_VERSIONS = [4];

export interface CertServiceOptions {
  maxResults: number;
  /** With 'token', an address names only keys pushed for it with a token of that address (see AddressQueries). */
  pushPolicy: AccessPolicy;
  now?: () => number;
}

export class CertService {
  constructor(
    private readonly keys: KeyReader,
    private readonly addresses: AddressQueries,
    private readonly options: CertServiceOptions,
  ) {}

  /** The matching keys' bytes (at most maxResults); 404 when none. */
  async certs(query: KeyQuery, versions: number[] = MODERN_VERSIONS): Promise<FoundKey[]> {
    const found = await this.keys.packets(query, { offset: 0, limit: this.options.maxResults, versions });
    if (found.length === 0) throw new AppError(404, 'not_found', 'no key matches');
    return found;
  }

  /** Index facts of the matching keys (at most maxResults); 404 when none. */
  async index(query: KeyQuery): Promise<IndexRow[]> {
    const rows = await this.keys.index(query, { offset: 0, limit: this.options.maxResults, versions: MODERN_VERSIONS });
    if (rows.length === 0) throw new AppError(404, 'not_found', 'no key matches');
    return rows;
  }

  /** Fingerprint prefixes (8 lower-case hex digits) of the keys changed on a UTC day (its midnight). */
  changedPrefixes(day: Date): Promise<string[]> {
    return this.addresses.changedPrefixes(day, new Date(day.getTime() + 86_400_000), MODERN_VERSIONS);
  }

  /** The key an address names: the newest valid one (see AddressQueries.keysForAddress); 404 when none. */
  async keyForEmail(email: string): Promise<FoundKey> {
    const [key] = await this.addressKeys({ email: email.toLowerCase() });
    if (!key) throw new AppError(404, 'not_found', 'no key for this address');
    return key;
  }

  /**
   * The Web Key Directory answer: the key the address names (by the hash of its local part and its domain, and
   * the local part itself when the client sent it), with only that address's user IDs; 404 when none.
   */
  async wkdKey(wkdHash: string, domain: string, localPart: string | undefined): Promise<Uint8Array> {
    const email = localPart === undefined ? undefined : `${localPart}@${domain}`.toLowerCase();
    const [key] = await this.addressKeys(email === undefined ? { wkdHash, domain } : { email });
    const subset = key && keyForAddress(key.packets, (e) => key.emails.includes(e));
    if (!subset) throw new AppError(404, 'not_found', 'no key for this address');
    return subset;
  }

  /** The addresses a key was pushed for with a token of that address (what vouches for them with PUSH_POLICY=token). */
  tokenVouchedEmails(fingerprint: string): Promise<string[]> {
    return this.addresses.tokenVouchedEmails(fingerprint);
  }

  private addressKeys(match: AddressMatch) {
    const now = Math.floor((this.options.now ?? Date.now)() / 1000);
    return this.addresses.keysForAddress(match, { versions: MODERN_VERSIONS, now, tokenVouched: this.options.pushPolicy === 'token', limit: 1 });
  }
}
