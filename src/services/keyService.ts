// Accepting keys (validate, merge, store) and finding them.
import { AppError } from '../errors.js';
import {
  certifierKeyIds, deriveKey, isCertRejected, isStoredSubset, mergeCert, parseStoredCert, parseUploadedCert, publicKeyFingerprint,
  readKeyData, writePackets,
  type AwaitingIssuer, type Cert, type Dropped, type IssuerLookup, type KeyLimits, type MergeResult, type Packet,
  type RejectionCode,
} from '../openpgp/index.js';
import type { AuditRepository } from '../store/auditRepository.js';
import type { KeyChange, KeyRecord, MergeStatus, SubmitResult } from '../vocabulary.js';
import { keyChangeOf, type KeyRepository, type PendingWrite, type StoredKey } from '../store/keyRepository.js';
import type { PendingAdmitter } from '../store/pendingCertifications.js';
import type { AccessPolicy, AuthenticatedToken } from './accessService.js';
import { checkKeyOwnership } from './keyOwnership.js';
import { awaitingDrops, pendingAdmitter, pendingDrops, pendingWrite } from './pendingCertifications.js';
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

// Concurrent merges of one key retry on a revision conflict; each retry sees the other writer's result.
const MAX_MERGE_ATTEMPTS = 100;

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
}

export class KeyService {
  private readonly admitPending: PendingAdmitter<KeyRecord>;

  constructor(
    private readonly keys: KeyRepository,
    private readonly audit: AuditRepository,
    private readonly options: KeyServiceOptions,
  ) {
    this.admitPending = pendingAdmitter(options.limits);
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
   * merged, then inserted together in one transaction (KeyRepository.insertMany); then the stored ones are
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
      await this.mergeBatch(keys, context, accepted, failed);
    } finally {
      await this.audit.record(audits.flatMap((a) => a.entries()));
    }
    return results;
  }

  private async mergeBatch(
    keys: Packet[][],
    context: SubmitContext,
    accepted: (i: number, outcome: KeyOutcome, audited?: KeyOutcome) => void,
    failed: (i: number, e: unknown) => void,
  ): Promise<void> {
    const parsed: (ParsedKey | null)[] = [];
    for (const [i, packets] of keys.entries()) {
      await yieldToEventLoop();
      try {
        parsed[i] = await parseUploadedCert(packets, this.options.limits);
      } catch (e) {
        parsed[i] = null;
        failed(i, e);
      }
    }
    const valid = [...parsed.entries()].filter((entry): entry is [number, ParsedKey] => entry[1] !== null);
    let stored: Map<string, StoredKey>;
    let issuers: BatchIssuers;
    try {
      stored = await this.keys.findForMergeMany(valid.map(([, p]) => p.cert.primary.fingerprint));
      issuers = await BatchIssuers.load(this.keys, valid.flatMap(([, p]) => certifierKeyIds(p.cert)));
    } catch (e) {
      for (const [i] of valid) failed(i, e);
      return;
    }

    // New keys: merged (verified) here, inserted together. The others, after them, one by one.
    const fresh: { i: number; parsed: ParsedKey; merged: MergeResult; record: KeyRecord; dropped: Dropped[] }[] = [];
    const oneByOne: number[] = [];
    const seen = new Set<string>();
    for (const [i, p] of valid) {
      await yieldToEventLoop();
      const fingerprint = p.cert.primary.fingerprint;
      if (stored.has(fingerprint) || seen.has(fingerprint)) {
        oneByOne.push(i);
      } else {
        try {
          const step = await this.mergeStep(p, context, issuers.lookup, null);
          if ('outcome' in step) throw new Error('a new key cannot be unchanged');
          fresh.push({ i, parsed: p, ...step });
          issuers.add(p.cert); // the keys after it in the batch may be certified by it
        } catch (e) {
          failed(i, e);
        }
      }
      seen.add(fingerprint);
    }
    let inserted: boolean[];
    const freshPending = this.pendingFor(fresh.map((f) => [f.record.fingerprint, f.merged.awaitingIssuer]));
    try {
      inserted = await this.keys.insertMany(fresh.map((f) => ({ record: f.record, packets: f.merged.bytes })), freshPending);
    } catch {
      // Stored by none of them (e.g. a deadlock, a row the database refused): each key on its own below. They
      // are reported written all the same, in case the failure came after the commit.
      for (const f of fresh) {
        issuers.remove(f.parsed.cert);
        this.reportWritten(f.record);
      }
      inserted = [];
    }
    this.reportAdmitted(freshPending, fresh.filter((_, n) => inserted[n]).map((f) => f.record.fingerprint));
    for (const [n, f] of fresh.entries()) {
      if (inserted[n]) {
        this.reportWritten(f.record);
        const outcome = { status: f.merged.status, fingerprint: f.record.fingerprint, dropped: f.dropped, added: f.merged.added };
        accepted(f.i, this.settledOutcome(outcome, f.merged.awaitingIssuer, freshPending), auditedOutcome(outcome, f.merged.awaitingIssuer));
      } else {
        oneByOne.push(f.i); // another writer inserted it first (merged with theirs below), or the insert failed
      }
    }

    // Stored keys (first copy in the batch): merged with the key as read above, the changed ones written together.
    const updates: { i: number; stored: StoredKey; merged: MergeResult; record: KeyRecord; dropped: Dropped[] }[] = [];
    const rest: number[] = [];
    const first = new Set<string>();
    for (const i of oneByOne.sort((a, b) => a - b)) {
      const p = parsed[i]!;
      const fingerprint = p.cert.primary.fingerprint;
      const storedKey = first.has(fingerprint) ? undefined : stored.get(fingerprint);
      first.add(fingerprint);
      if (!storedKey) {
        rest.push(i); // a later copy sees the first one's write; a lost insert, the other writer's key
        continue;
      }
      await yieldToEventLoop();
      try {
        const same = await this.storedAsIs(keys[i]!, fingerprint, storedKey, context);
        if (same) {
          accepted(i, same);
          continue;
        }
        const step = await this.mergeStep(p, context, issuers.lookup, storedKey);
        // Unchanged but with certifications to keep aside: on its own below (KeyRepository.keepAside).
        if ('outcome' in step && step.awaiting.length > 0) rest.push(i);
        else if ('outcome' in step) accepted(i, step.outcome);
        else updates.push({ i, stored: storedKey, ...step });
      } catch (e) {
        failed(i, e);
      }
    }
    let updated: boolean[];
    const updatesPending = this.pendingFor(updates.map((u) => [u.record.fingerprint, u.merged.awaitingIssuer]));
    try {
      updated = await this.keys.updateMany(updates.map((u) => ({ stored: u.stored, record: u.record, packets: u.merged.bytes })), updatesPending);
    } catch {
      for (const u of updates) this.reportWritten(u.record); // in case the failure came after the commit
      updated = [];
    }
    this.reportAdmitted(updatesPending, updates.filter((_, n) => updated[n]).map((u) => u.record.fingerprint));
    for (const [n, u] of updates.entries()) {
      if (updated[n]) {
        this.reportWritten(u.record);
        const outcome = { status: u.merged.status, fingerprint: u.record.fingerprint, dropped: u.dropped, added: u.merged.added };
        accepted(u.i, this.settledOutcome(outcome, u.merged.awaitingIssuer, updatesPending), auditedOutcome(outcome, u.merged.awaitingIssuer));
      } else {
        rest.push(u.i); // changed meanwhile by another writer (or not written): merged again, on its own
      }
    }

    // The rest one by one, in batch order (a key's retry before its later copies).
    for (const i of rest.sort((a, b) => a - b)) {
      try {
        accepted(i, await this.mergeParsed(parsed[i]!, context, issuers.lookup));
      } catch (e) {
        failed(i, e);
      }
    }
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
    const same = stored ? await this.storedAsIs(packets, fingerprint!, stored, context) : null;
    if (same) {
      batch.accepted(same);
      return same;
    }
    const parsed = await parseUploadedCert(packets, this.options.limits);
    // The key as just read (null: not stored) is the first merge's, when parsing names the same key.
    const known = fingerprint !== null && parsed.cert.primary.fingerprint === fingerprint ? stored : undefined;
    return this.mergeParsed(parsed, context, (keyIds) => this.keys.primaryKeysByKeyId(keyIds), known, batch);
  }

  /**
   * The outcome of a key whose every packet is stored already (isStoredSubset): unchanged, nothing added or
   * dropped, as the full merge would find; null for any other key. The push policy applies as in mergeStep.
   */
  private async storedAsIs(packets: Packet[], fingerprint: string, stored: StoredKey, context: SubmitContext): Promise<KeyOutcome | null> {
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
  private async mergeParsed(
    parsed: ParsedKey,
    context: SubmitContext,
    lookupIssuers: IssuerLookup,
    known?: StoredKey | null,
    batch?: PushAuditBatch,
  ): Promise<KeyOutcome> {
    const fingerprint = parsed.cert.primary.fingerprint;
    for (let attempt = 0; attempt < MAX_MERGE_ATTEMPTS; attempt++) {
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
  private reportWritten(record: KeyRecord): void {
    this.options.onWritten?.(keyChangeOf(record));
  }

  /** What a write of these keys (fingerprint, awaiting certifications) keeps aside and admits. */
  private pendingFor(keys: [string, AwaitingIssuer[]][]): PendingWrite {
    return pendingWrite(this.options.limits, this.admitPending, keys);
  }

  /** Tells onWritten of the keys a write rewrote with certifications it admitted, but those told already (`told`). */
  private reportAdmitted(pending: PendingWrite, told: string[] = []): void {
    const skip = new Set(told);
    for (const record of pending.admitted) if (!skip.has(record.fingerprint)) this.reportWritten(record);
  }

  /** A written key's outcome with what became of its awaiting certifications. */
  private settledOutcome(outcome: KeyOutcome, awaiting: AwaitingIssuer[], pending: PendingWrite): KeyOutcome {
    return { ...outcome, dropped: [...outcome.dropped, ...pendingDrops(awaiting, pending, outcome.fingerprint, this.options.limits)] };
  }

  /**
   * One merge of a parsed key with the stored key (null: none): the outcome when there is nothing to write, else
   * what to write. Throws when the key is refused (unusable, or not the context's token's).
   */
  private async mergeStep(parsed: ParsedKey, context: SubmitContext, lookupIssuers: IssuerLookup, stored: StoredKey | null):
  Promise<{ outcome: KeyOutcome; awaiting: AwaitingIssuer[] } | { merged: MergeResult; record: KeyRecord; dropped: Dropped[] }> {
    const fingerprint = parsed.cert.primary.fingerprint;
    const storedCert = stored ? await parseStoredCert(stored.packets) : null;
    const merged = await mergeCert(storedCert, parsed.cert, { limits: this.options.limits, lookupIssuers });
    // Derived once: the ownership check reads its user IDs, the store writes it.
    const record = deriveKey(merged.cert);
    checkKeyOwnership(context.pushPolicy ?? 'open', context.token ?? null, fingerprint, storedCert, record.userIds);
    const dropped = [...parsed.dropped, ...merged.dropped];
    if (merged.status === 'unchanged') return { outcome: { status: 'unchanged', fingerprint, dropped, added: merged.added }, awaiting: merged.awaitingIssuer };
    return { merged, record, dropped };
  }

  async ping(): Promise<void> {
    await this.keys.ping();
  }
}

/**
 * The audit row's view of an outcome: the awaiting certifications as the merge found them (written with the key,
 * before the store says which it kept aside), the same on every path.
 */
function auditedOutcome(outcome: KeyOutcome, awaiting: AwaitingIssuer[]): KeyOutcome {
  return awaiting.length === 0 ? outcome : { ...outcome, dropped: [...outcome.dropped, ...awaitingDrops(awaiting)] };
}

function isNotOwned(e: unknown): e is AppError {
  return e instanceof AppError && e.code === 'key_not_owned';
}

/**
 * Lets I/O callbacks run between the keys of a batch: parsing and verifying chain promises that are already
 * settled, which would otherwise hold the event loop for the whole batch (and other batches' transactions open
 * meanwhile, holding row locks others wait for).
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The audit row of a key refused (unusable, or not the token's); other errors (the database) leave none. */
function recordRefusal(batch: PushAuditBatch, e: unknown): void {
  if (isCertRejected(e)) batch.refused(e.fingerprint ?? null, e.reason);
  if (isNotOwned(e)) batch.refused(String(e.details?.['fingerprint']), e.message);
}

type ParsedKey = Awaited<ReturnType<typeof parseUploadedCert>>;

/**
 * Third-party certifiers for the merges of one batch: the stored ones among every key ID the batch's keys name,
 * read in one query, plus the batch's own new keys as they are accepted. Key IDs not read up front (none, as
 * certifierKeyIds names all mergeCert can ask for) are looked up in the store.
 */
class BatchIssuers {
  private readonly byKeyId = new Map<string, Uint8Array[]>();
  private readonly batchKeys = new Map<string, Uint8Array>();

  private constructor(
    private readonly keys: KeyRepository,
    private readonly loaded: Set<string>,
  ) {}

  static async load(keys: KeyRepository, keyIds: string[]): Promise<BatchIssuers> {
    const unique = [...new Set(keyIds)];
    const issuers = new BatchIssuers(keys, new Set(unique));
    for (const key of await keys.primaryKeysWithKeyIds(unique)) issuers.put(key.keyId, key.packets);
    return issuers;
  }

  /** A key of the batch that will be stored (its primary key packet is all a certification check needs). */
  add(cert: Cert): void {
    const bytes = writePackets([cert.primary.packet]);
    this.batchKeys.set(cert.primary.fingerprint, bytes);
    this.put(cert.primary.keyId, bytes);
  }

  /** A key of the batch that was not stored after all. */
  remove(cert: Cert): void {
    const bytes = this.batchKeys.get(cert.primary.fingerprint);
    if (!bytes) return;
    this.batchKeys.delete(cert.primary.fingerprint);
    const list = this.byKeyId.get(cert.primary.keyId)?.filter((b) => b !== bytes) ?? [];
    if (list.length > 0) this.byKeyId.set(cert.primary.keyId, list);
    else this.byKeyId.delete(cert.primary.keyId);
  }

  readonly lookup: IssuerLookup = async (keyIds) => {
    const found = keyIds.flatMap((id) => this.byKeyId.get(id) ?? []);
    const unknown = keyIds.filter((id) => !this.loaded.has(id));
    if (unknown.length > 0) found.push(...(await this.keys.primaryKeysByKeyId(unknown)));
    return found;
  };

  private put(keyId: string, bytes: Uint8Array): void {
    this.byKeyId.set(keyId, [...(this.byKeyId.get(keyId) ?? []), bytes]);
  }
}
