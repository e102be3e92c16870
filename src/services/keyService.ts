// Accepting keys: an upload or an import batch validated, each key merged into the store (keyMerger.ts, batchMerge.ts)
// and its outcome recorded in the audit log.
import { AppError } from '../errors.js';
import {
  isCertRejected,
  parseUploadedCert,
  publicKeyFingerprint,
  readKeyData,
  type Dropped,
  type KeyLimits,
  type Packet,
  type RejectionCode,
} from '../openpgp/index.js';
import type { AuditRepository } from '../store/auditRepository.js';
import type { KeyStore } from '../store/keyStore.js';
import type { SweepPart } from '../store/pendingCertifications.js';
import type { KeyChange, MergeStatus, SubmitResult } from '../vocabulary.js';
import type { AuthenticatedToken, AccessPolicy } from './accessService.js';
import { mergeBatch } from './batchMerge.js';
import { isNotOwned, KeyMerger, recordRefusal } from './keyMerger.js';
import { PushAuditBatch, type AddedComponents } from './pushAudit.js';

/** Who submits keys, for access control and the audit log. */
export interface SubmitContext {
  source: 'http' | 'import';
  remoteAddress?: string | undefined;
  /** The valid access token the request carried; null or absent when anonymous (and for imports). */
  token?: AuthenticatedToken | null;
  /** 'token': each key needs a token whose identity is on it (see keyOwnership.ts). Default 'open'. */
  pushPolicy?: AccessPolicy;
}

export interface KeyOutcome {
  status: MergeStatus;
  fingerprint: string;
  dropped: Dropped[];
  added: AddedComponents;
}

/** Told what became of each key of a submission (and of each unreadable part of it), e.g. to count them. */
export type KeyOutcomeListener = (outcome: MergeStatus | 'rejected', reason?: RejectionCode | 'not_owned') => void;

export interface KeyServiceOptions {
  limits: KeyLimits;
  onOutcome?: KeyOutcomeListener;
  /**
   * Told of every key written (inserted or updated), once it is committed, and of every write that failed but
   * may have committed: e.g. to drop cached lookups.
   */
  onWritten?: (change: KeyChange) => void;
  /**
   * Writes keep awaiting certifications aside but admit none of those aside: `admitAwaiting` does, once the
   * writes are done (keystore import, whose keys certify each other in every order; see PendingWriteOf).
   */
  deferAdmission?: boolean;
}

/** What a push handler needs of KeyService (a test passes a fake of it). */
export type KeySubmission = Pick<KeyService, 'submit'>;

export class KeyService {
  private readonly merger: KeyMerger;

  constructor(
    private readonly keys: KeyStore,
    private readonly audit: Pick<AuditRepository, 'record'>,
    private readonly options: KeyServiceOptions,
  ) {
    this.merger = new KeyMerger(keys, options);
  }

  /**
   * Validates and stores every key of an upload. A key written carries the upload's audit rows so far (its own
   * last) into its transaction; the rows left are written together at the end.
   */
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
      // Refused only because the token's identity is not on the key(s): 403 with exactly the reason(s).
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

  /**
   * submitKey for many keys, with far fewer database round trips. Gives for each key, in order, what submitKey
   * would (the outcome it returns or the error it throws) and writes the same audit rows, all in one insert.
   * The stored keys among them are read in one query and their certifiers in another. Keys not stored yet are
   * merged, then inserted together in one transaction (KeyStore.insertMany); then the stored ones are
   * merged, the changed ones written together (updateMany); what is left (a key's later copies in the batch,
   * keys another writer inserted or changed meanwhile, writes that failed) takes submitKey's path, one key
   * after the other. As if submitted one by one, a new key may be certified by the new keys before it in the
   * batch; a stored key is merged once the batch's new keys are stored, so it may be certified by any of them.
   */
  async submitKeys(keys: Packet[][], context: SubmitContext): Promise<PromiseSettledResult<KeyOutcome>[]> {
    const results: PromiseSettledResult<KeyOutcome>[] = [];
    const audits = keys.map(() => new PushAuditBatch(context));
    // `audited`: what the audit row says, when the outcome says more (see auditedOutcome).
    const accepted = (i: number, outcome: KeyOutcome, audited: KeyOutcome = outcome) => {
      audits[i]!.accepted(audited);
      results[i] = { status: 'fulfilled', value: outcome };
    };
    const failed = (i: number, e: unknown) => {
      recordRefusal(audits[i]!, e);
      results[i] = { status: 'rejected', reason: e };
    };
    try {
      await mergeBatch(this.merger, keys, context, accepted, failed);
    } finally {
      await this.audit.record(audits.flatMap((a) => a.entries()));
    }
    return results;
  }

  /** Merges one key, recording its outcome in the batch (or the refusal, and throws). */
  private async auditedMerge(packets: Packet[], context: SubmitContext, batch: PushAuditBatch): Promise<KeyOutcome> {
    try {
      return await this.mergeKey(packets, context, batch);
    } catch (e) {
      recordRefusal(batch, e);
      throw e;
    }
  }

  /**
   * The stored key is read first: an upload of packets all stored already (a client re-sending a key) is
   * unchanged without a parse or a signature check (storedAsIs). Anything else is parsed and merged.
   */
  private async mergeKey(packets: Packet[], context: SubmitContext, batch: PushAuditBatch): Promise<KeyOutcome> {
    const fingerprint = publicKeyFingerprint(packets);
    const stored = fingerprint === null ? null : await this.keys.findForMerge(fingerprint);
    const same = stored ? await this.merger.storedAsIs(packets, fingerprint!, stored, context) : null;
    if (same) {
      batch.accepted(same);
      return same;
    }
    const parsed = await parseUploadedCert(packets, this.options.limits);
    // The key as just read (null: not stored) is the first merge's, when parsing names the same key.
    const known = fingerprint !== null && parsed.cert.primary.fingerprint === fingerprint ? stored : undefined;
    return this.merger.mergeParsed(parsed, context, (keyIds) => this.keys.primaryKeysByKeyId(keyIds), known, batch);
  }

  /**
   * Admits the certifications aside whose issuer is stored (of the certified keys of `part`): after writes with
   * deferAdmission. Gives the number of keys rewritten.
   */
  admitAwaiting(part?: SweepPart): Promise<number> {
    return this.merger.admitAwaiting(part);
  }

  async ping(): Promise<void> {
    await this.keys.ping();
  }
}
