// Merging one key into the store: the stored key read, merged with the upload, written by compare-and-swap on
// its revision and merged again (a handful of times, after a jittered pause) when another writer got there first;
// merges of one key in one process wait for each other.
import { AppError } from '../errors.js';
import {
  deriveKey,
  isCertRejected,
  isStoredSubset,
  IssuerKeys,
  mergeCert,
  parseStoredCert,
  type parseUploadedCert,
  type AwaitingIssuer,
  type Dropped,
  type IssuerLookup,
  type MergeResult,
  type Packet,
} from '../openpgp/index.js';
import { keyChangeOf } from '../store/keyRepository.js';
import type { KeyStore, PendingWrite, StoredKey } from '../store/keyStore.js';
import type { PendingAdmitter, SweepPart } from '../store/pendingCertifications.js';
import type { KeyRecord } from '../vocabulary.js';
import { checkKeyOwnership } from './keyOwnership.js';
import type { KeyOutcome, KeyServiceOptions, SubmitContext } from './keyService.js';
import { awaitingDrops, pendingAdmitter, pendingDrops, pendingWrite } from './pendingCertifications.js';
import type { PushAuditBatch } from './pushAudit.js';

// Concurrent merges of one key retry on a revision conflict; each retry sees the other writer's result. The
// pause before a retry is random (full jitter) and doubles each time, so writers of one key spread out.
const MAX_MERGE_ATTEMPTS = 8;
const RETRY_BASE_MS = 10;
const RETRY_MAX_MS = 500;

export type ParsedKey = Awaited<ReturnType<typeof parseUploadedCert>>;

/** A merge step's answer: the outcome when there is nothing to write, else what to write. */
export type MergeStep = { outcome: KeyOutcome; awaiting: AwaitingIssuer[] } | { merged: MergeResult; record: KeyRecord; dropped: Dropped[] };

export class KeyMerger {
  private readonly admitPending: PendingAdmitter<KeyRecord>;
  // Certifiers' keys read by this merger's merges, each read once for all the keys it certifies.
  private readonly issuerKeys = new IssuerKeys();
  // Merges of one key in this process run one after the other: side by side they would only race for the key's
  // revision and retry, so the retries left are for writers in other processes.
  private readonly merging = new Map<string, Promise<KeyOutcome>>();

  constructor(
    readonly keys: KeyStore,
    readonly options: KeyServiceOptions,
  ) {
    this.admitPending = pendingAdmitter(options.limits, this.issuerKeys);
  }

  /**
   * The outcome of a key whose every packet is stored already (isStoredSubset): unchanged, nothing added or
   * dropped, as the full merge would find; null for any other key. The push policy applies as in mergeStep.
   */
  async storedAsIs(packets: Packet[], fingerprint: string, stored: StoredKey, context: SubmitContext): Promise<KeyOutcome | null> {
    if (!isStoredSubset(packets, stored.packets, this.options.limits)) return null;
    const policy = context.pushPolicy ?? 'open';
    if (policy !== 'open') checkKeyOwnership(policy, context.token ?? null, fingerprint, await parseStoredCert(stored.packets), []);
    return { status: 'unchanged', fingerprint, dropped: [], added: { userIds: 0, subkeys: 0, signatures: 0 } };
  }

  /**
   * Merges a parsed key into the store, retrying on a concurrent change. `known`: the stored key as read just
   * before (null: none), for the first attempt. With a batch, the outcome is recorded in it, and a key written
   * carries the batch's rows not written yet into its transaction.
   */
  async mergeParsed(
    parsed: ParsedKey,
    context: SubmitContext,
    lookupIssuers: IssuerLookup,
    known?: StoredKey | null,
    batch?: PushAuditBatch,
  ): Promise<KeyOutcome> {
    const fingerprint = parsed.cert.primary.fingerprint;
    const before = this.merging.get(fingerprint);
    // Behind another merge of the key, the key as read before is stale: each attempt reads it.
    const run = (before ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.mergeAttempts(parsed, context, lookupIssuers, before ? undefined : known, batch));
    this.merging.set(fingerprint, run);
    try {
      return await run;
    } finally {
      if (this.merging.get(fingerprint) === run) this.merging.delete(fingerprint);
    }
  }

  private async mergeAttempts(
    parsed: ParsedKey,
    context: SubmitContext,
    lookupIssuers: IssuerLookup,
    known: StoredKey | null | undefined,
    batch: PushAuditBatch | undefined,
  ): Promise<KeyOutcome> {
    const fingerprint = parsed.cert.primary.fingerprint;
    for (let attempt = 0; attempt < MAX_MERGE_ATTEMPTS; attempt++) {
      if (attempt > 0) await retryPause(attempt);
      const stored = attempt === 0 && known !== undefined ? known : await this.keys.findForMerge(fingerprint);
      const step = await this.mergeStep(parsed, context, lookupIssuers, stored);
      if ('outcome' in step) {
        const outcome = step.outcome;
        if (step.awaiting.length > 0) {
          const pending = this.pendingFor([[fingerprint, step.awaiting]]);
          let kept: boolean;
          try {
            kept = await this.keys.keepAside(stored!, fingerprint, pending); // unchanged: stored
          } finally {
            this.reportAdmitted(pending);
          }
          if (!kept) continue;
          batch?.accepted(auditedOutcome(outcome, step.awaiting));
          return this.settledOutcome(outcome, step.awaiting, pending);
        }
        batch?.accepted(outcome);
        return outcome;
      }
      const { merged, record, dropped } = step;
      const outcome: KeyOutcome = { status: merged.status, fingerprint, dropped, added: merged.added };
      // The audit row goes with the write, before the store says which awaiting certifications it kept aside.
      const audit = batch?.withUnwritten(auditedOutcome(outcome, merged.awaitingIssuer)) ?? [];
      const pending = this.pendingFor([[fingerprint, merged.awaitingIssuer]]);
      let written: boolean;
      try {
        written = stored
          ? await this.keys.update(stored, record, merged.bytes, audit, pending)
          : await this.keys.insert(record, merged.bytes, audit, pending);
      } catch (e) {
        this.reportWritten(record); // in case the failure came after the commit
        this.reportAdmitted(pending);
        throw e;
      }
      if (written) {
        batch?.accepted(auditedOutcome(outcome, merged.awaitingIssuer), true);
        this.reportWritten(record);
        this.reportAdmitted(pending, [fingerprint]);
        return this.settledOutcome(outcome, merged.awaitingIssuer, pending);
      }
    }
    throw new AppError(503, 'unavailable', `key ${fingerprint} is being changed by too many writers; try again`);
  }

  /**
   * Tells onWritten of a key written, or whose write failed but may have committed (a connection lost at the
   * commit): dropping a cached answer that was still right costs one lookup; keeping a stale one, until it ages
   * out, would hide the key.
   */
  reportWritten(record: KeyRecord): void {
    this.options.onWritten?.(keyChangeOf(record));
  }

  /** What a write of these keys (fingerprint, awaiting certifications) keeps aside and admits. */
  pendingFor(keys: [string, AwaitingIssuer[]][]): PendingWrite {
    return pendingWrite(this.options.limits, this.admitPending, keys, this.options.deferAdmission === true);
  }

  /** KeyStore.admitAwaiting with this merger's admission; each key rewritten is reported. Gives their number. */
  async admitAwaiting(part?: SweepPart): Promise<number> {
    const rewritten = await this.keys.admitAwaiting(this.admitPending, part);
    for (const record of rewritten) this.reportWritten(record);
    return rewritten.length;
  }

  /** Tells onWritten of the keys a write rewrote with certifications it admitted, but those told already (`told`). */
  reportAdmitted(pending: PendingWrite, told: string[] = []): void {
    const skip = new Set(told);
    for (const record of pending.admitted) if (!skip.has(record.fingerprint)) this.reportWritten(record);
  }

  /** A written key's outcome with what became of its awaiting certifications. */
  settledOutcome(outcome: KeyOutcome, awaiting: AwaitingIssuer[], pending: PendingWrite): KeyOutcome {
    return { ...outcome, dropped: [...outcome.dropped, ...pendingDrops(awaiting, pending, outcome.fingerprint, this.options.limits)] };
  }

  /**
   * One merge of a parsed key with the stored key (null: none): the outcome when there is nothing to write, else
   * what to write. Throws when the key is refused (unusable, or not the context's token's).
   */
  async mergeStep(parsed: ParsedKey, context: SubmitContext, lookupIssuers: IssuerLookup, stored: StoredKey | null): Promise<MergeStep> {
    const fingerprint = parsed.cert.primary.fingerprint;
    const storedCert = stored ? await parseStoredCert(stored.packets) : null;
    const merged = await mergeCert(storedCert, parsed.cert, { limits: this.options.limits, lookupIssuers, issuerKeys: this.issuerKeys });
    // Derived once: the ownership check reads its user IDs, the store writes it.
    const record = deriveKey(merged.cert);
    checkKeyOwnership(context.pushPolicy ?? 'open', context.token ?? null, fingerprint, storedCert, record.userIds);
    const dropped = [...parsed.dropped, ...merged.dropped];
    if (merged.status === 'unchanged')
      return { outcome: { status: 'unchanged', fingerprint, dropped, added: merged.added }, awaiting: merged.awaitingIssuer };
    return { merged, record, dropped };
  }
}

/**
 * The audit row's view of an outcome: the awaiting certifications as the merge found them (written with the key,
 * before the store says which it kept aside), the same on every path.
 */
export function auditedOutcome(outcome: KeyOutcome, awaiting: AwaitingIssuer[]): KeyOutcome {
  return awaiting.length === 0 ? outcome : { ...outcome, dropped: [...outcome.dropped, ...awaitingDrops(awaiting)] };
}

export function isNotOwned(e: unknown): e is AppError {
  return e instanceof AppError && e.code === 'key_not_owned';
}

/**
 * Lets I/O callbacks run between the keys of a batch: parsing and verifying chain promises that are already
 * settled, which would otherwise hold the event loop for the whole batch (and other batches' transactions open
 * meanwhile, holding row locks others wait for).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The audit row of a key refused (unusable, or not the token's); other errors (the database) leave none. */
export function recordRefusal(batch: PushAuditBatch, e: unknown): void {
  if (isCertRejected(e)) batch.refused(e.fingerprint ?? null, e.reason);
  if (isNotOwned(e)) batch.refused(String(e.details?.['fingerprint']), e.message);
}

/** A random pause before retry `attempt` (1, 2, ...): up to RETRY_BASE_MS doubled each time, at most RETRY_MAX_MS. */
function retryPause(attempt: number): Promise<void> {
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
