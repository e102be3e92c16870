// Accepting keys (validate, merge, store) and finding them.
import { AppError } from '../errors.js';
import {
  deriveKey, isCertRejected, mergeCert, parseStoredCert, parseUploadedCert, readKeyData,
  type Dropped, type KeyLimits, type MergeStatus, type Packet, type RejectionCode,
} from '../openpgp/index.js';
import type { AuditRepository } from '../store/auditRepository.js';
import type { KeyRepository } from '../store/keyRepository.js';
import type { AccessPolicy, AuthenticatedToken } from './accessService.js';
import { checkKeyOwnership } from './keyOwnership.js';
import { PushAuditBatch, type AddedComponents } from './pushAudit.js';

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
  /** The valid access token the request carried; null or absent when anonymous (and for imports). */
  token?: AuthenticatedToken | null;
  /** 'token': each key needs a token whose e-mail is on it (see keyOwnership.ts). Default 'open'. */
  pushPolicy?: AccessPolicy;
}

export interface KeyOutcome {
  status: MergeStatus;
  fingerprint: string;
  dropped: Dropped[];
  added: AddedComponents;
}

// Concurrent merges of one key retry on a revision conflict; each retry sees the other writer's result.
const MAX_MERGE_ATTEMPTS = 100;

/** Told what became of each key of a submission (and of each unreadable part of it), e.g. to count them. */
export type KeyOutcomeListener = (outcome: MergeStatus | 'rejected', reason?: RejectionCode | 'not_owned') => void;

export interface KeyServiceOptions {
  limits: KeyLimits;
  onOutcome?: KeyOutcomeListener;
}

export class KeyService {
  constructor(
    private readonly keys: KeyRepository,
    private readonly audit: AuditRepository,
    private readonly options: KeyServiceOptions,
  ) {}

  /** Validates and stores every key of an upload; the audit rows of the whole upload are written in one go. */
  async submit(input: string | Uint8Array, context: SubmitContext): Promise<SubmitResult> {
    const batch = new PushAuditBatch(context);
    try {
      return await this.submitAll(input, context, batch);
    } finally {
      await this.audit.record(batch.entries());
    }
  }

  private async submitAll(input: string | Uint8Array, context: SubmitContext, batch: PushAuditBatch): Promise<SubmitResult> {
    const data = readKeyData(input);
    const result: SubmitResult = { inserted: [], updated: [], unchanged: [], rejected: [], dropped: [] };
    result.rejected.push(...data.problems.map((reason) => ({ reason })));
    for (const reason of data.problems) batch.refused(null, reason);
    if (data.keys.length === 0) {
      const why = data.problems.length > 0 ? data.problems.join('; ') : 'no OpenPGP key found in the submitted data';
      throw new AppError(400, 'no_key_data', why);
    }
    for (const _problem of data.problems) this.options.onOutcome?.('rejected', 'unreadable_data');
    let notOwned = 0;
    for (const packets of data.keys) {
      try {
        const outcome = await this.auditedMerge(packets, context, batch);
        result[outcome.status].push(outcome.fingerprint);
        this.options.onOutcome?.(outcome.status);
        result.dropped.push(...outcome.dropped.map((d) => ({ fingerprint: outcome.fingerprint, ...d })));
      } catch (e) {
        if (isNotOwned(e)) {
          result.rejected.push({ fingerprint: String(e.details?.['fingerprint']), reason: e.message });
          this.options.onOutcome?.('rejected', 'not_owned');
          notOwned++;
          continue;
        }
        if (!isCertRejected(e)) throw e;
        this.options.onOutcome?.('rejected', e.code);
        result.rejected.push({ ...(e.fingerprint ? { fingerprint: e.fingerprint } : {}), reason: e.reason });
      }
    }
    if (result.inserted.length + result.updated.length + result.unchanged.length === 0) {
      // Refused only because the token's e-mail is not on the key(s): 403 with exactly the reason(s).
      if (notOwned > 0 && notOwned === result.rejected.length) {
        throw new AppError(403, 'key_not_owned', result.rejected.map((r) => r.reason).join('; '), { rejected: result.rejected });
      }
      const why = result.rejected.map((r) => (r.fingerprint ? `key ${r.fingerprint}: ${r.reason}` : r.reason)).join('; ');
      throw new AppError(422, 'unusable_key', `no usable key: ${why}`, { rejected: result.rejected });
    }
    return result;
  }

  /**
   * Validates one key (its packets) and merges it into the store, recording the outcome in the audit log.
   * Throws CertRejected when unusable, AppError key_not_owned (403) when the context's token may not push it.
   */
  async submitKey(packets: Packet[], context: SubmitContext): Promise<KeyOutcome> {
    const batch = new PushAuditBatch(context);
    try {
      return await this.auditedMerge(packets, context, batch);
    } finally {
      await this.audit.record(batch.entries());
    }
  }

  private async auditedMerge(packets: Packet[], context: SubmitContext, batch: PushAuditBatch): Promise<KeyOutcome> {
    try {
      const outcome = await this.mergeKey(packets, context);
      batch.accepted(outcome);
      return outcome;
    } catch (e) {
      if (isCertRejected(e)) batch.refused(e.fingerprint ?? null, e.reason);
      if (isNotOwned(e)) batch.refused(String(e.details?.['fingerprint']), e.message);
      throw e;
    }
  }

  private async mergeKey(packets: Packet[], context: SubmitContext): Promise<KeyOutcome> {
    const parsed = await parseUploadedCert(packets, this.options.limits);
    const lookupIssuers = (keyIds: string[]) => this.keys.primaryKeysByKeyId(keyIds);
    const fingerprint = parsed.cert.primary.fingerprint;
    for (let attempt = 0; attempt < MAX_MERGE_ATTEMPTS; attempt++) {
      const stored = await this.keys.findForMerge(fingerprint);
      const storedCert = stored ? await parseStoredCert(stored.packets) : null;
      const merged = await mergeCert(storedCert, parsed.cert, { limits: this.options.limits, lookupIssuers });
      // Derived once: the ownership check reads its user IDs, the store writes it.
      const record = deriveKey(merged.cert);
      checkKeyOwnership(context.pushPolicy ?? 'open', context.token ?? null, fingerprint, storedCert, record.userIds);
      const dropped = [...parsed.dropped, ...merged.dropped];
      if (merged.status === 'unchanged') return { status: 'unchanged', fingerprint, dropped, added: merged.added };
      const written = stored ? await this.keys.update(stored, record, merged.bytes) : await this.keys.insert(record, merged.bytes);
      if (written) return { status: merged.status, fingerprint, dropped, added: merged.added };
    }
    throw new AppError(503, 'unavailable', `key ${fingerprint} is being changed by too many writers; try again`);
  }

  async ping(): Promise<void> {
    await this.keys.ping();
  }
}

function isNotOwned(e: unknown): e is AppError {
  return e instanceof AppError && e.code === 'key_not_owned';
}
