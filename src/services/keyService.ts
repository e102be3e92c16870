// Accepting keys (validate, merge, store) and finding them.
import { AppError } from '../errors.js';
import {
  deriveKey, isCertRejected, mergeCert, parseStoredCert, parseUploadedCert, readKeyData, serializeCert,
  type Dropped, type MergeStatus, type Packet,
} from '../openpgp/index.js';
import type { KeyRepository } from '../store/keyRepository.js';

export interface RejectedKey {
  fingerprint?: string;
  reason: string;
}

export interface DroppedComponent extends Dropped {
  fingerprint: string;
}

export interface SubmitResult {
  inserted: string[];
  updated: string[];
  unchanged: string[];
  rejected: RejectedKey[];
  dropped: DroppedComponent[];
}

/** Who submits keys, for access control and the audit log. */
export interface SubmitContext {
  source: 'http' | 'import';
  remoteAddress?: string | undefined;
}

export interface KeyOutcome {
  status: MergeStatus;
  fingerprint: string;
  dropped: Dropped[];
}

// Concurrent merges of one key retry on a revision conflict; each retry sees the other writer's result.
const MAX_MERGE_ATTEMPTS = 100;

export class KeyService {
  constructor(
    private readonly keys: KeyRepository,
  ) {}

  async submit(input: string | Uint8Array, context: SubmitContext): Promise<SubmitResult> {
    const data = readKeyData(input);
    const result: SubmitResult = { inserted: [], updated: [], unchanged: [], rejected: [], dropped: [] };
    result.rejected.push(...data.problems.map((reason) => ({ reason })));
    if (data.keys.length === 0) {
      const why = data.problems.length > 0 ? data.problems.join('; ') : 'no OpenPGP key found in the submitted data';
      throw new AppError(400, 'no_key_data', why);
    }
    for (const packets of data.keys) {
      try {
        const outcome = await this.submitKey(packets, context);
        result[outcome.status].push(outcome.fingerprint);
        result.dropped.push(...outcome.dropped.map((d) => ({ fingerprint: outcome.fingerprint, ...d })));
      } catch (e) {
        if (!isCertRejected(e)) throw e;
        result.rejected.push({ ...(e.fingerprint ? { fingerprint: e.fingerprint } : {}), reason: e.reason });
      }
    }
    if (result.inserted.length + result.updated.length + result.unchanged.length === 0) {
      const why = result.rejected.map((r) => (r.fingerprint ? `key ${r.fingerprint}: ${r.reason}` : r.reason)).join('; ');
      throw new AppError(422, 'unusable_key', `no usable key: ${why}`, { rejected: result.rejected });
    }
    return result;
  }

  /** Validates one key (its packets) and merges it into the store. Throws CertRejected when unusable. */
  async submitKey(packets: Packet[], _context: SubmitContext): Promise<KeyOutcome> {
    const parsed = await parseUploadedCert(packets);
    const fingerprint = parsed.cert.primary.fingerprint;
    for (let attempt = 0; attempt < MAX_MERGE_ATTEMPTS; attempt++) {
      const stored = await this.keys.findForMerge(fingerprint);
      const storedCert = stored ? await parseStoredCert(stored.packets) : null;
      const merged = await mergeCert(storedCert, parsed.cert);
      const dropped = [...parsed.dropped, ...merged.dropped];
      if (merged.status === 'unchanged') return { status: 'unchanged', fingerprint, dropped };
      const bytes = serializeCert(merged.packets);
      const record = deriveKey(merged.cert);
      const written = stored ? await this.keys.update(stored, record, bytes) : await this.keys.insert(record, bytes);
      if (written) return { status: merged.status, fingerprint, dropped };
    }
    throw new AppError(503, 'unavailable', `key ${fingerprint} is being changed by too many writers; try again`);
  }

  async ping(): Promise<void> {
    await this.keys.ping();
  }
}
