// Bulk import (`keystore import`): keys streamed from files, folders or stdin, each validated and merged
// exactly as POST /pks/add does, a bounded number in flight, in batches (KeyService.submitKeys: the new keys of
// a batch are stored in one transaction, the changed ones in another).
// Third-party certifications are kept only when their issuer is stored, so keys whose certifications waited
// for an issuer get a second merge once every key of the import is stored ("certification pass"): the result
// does not depend on the order of the input, and a second run of the same import changes nothing.
import { addAbortSignal } from 'node:stream';
import type { Readable } from 'node:stream';
import { isCertRejected, readPackets, type Packet } from '../openpgp/index.js';
import type { MergeStatus } from '../vocabulary.js';
import { KeyStreamReader, primaryFingerprint, type KeyStreamItem } from '../openpgp/keyStream.js';
import { isDatabaseUnavailable } from '../store/database.js';
import { findSources, Spool, type ImportSource } from './importSources.js';
import type { KeyOutcome, KeyService } from './keyService.js';

export type KeyResult =
  /** awaitsIssuers: a third-party certification was dropped because its issuer is not stored (yet). */
  | { status: MergeStatus; fingerprint: string; awaitsIssuers: boolean }
  | { status: 'rejected'; fingerprint?: string; reason: string }
  /** Not the key's fault (e.g. the database); fatal ends the import. */
  | { status: 'failed'; fingerprint?: string; reason: string; fatal: boolean };

/** Merges keys given as bytes: in this thread (KeyService) or in worker threads. */
export interface KeySubmitter {
  /** How many keys it takes at once. */
  readonly capacity: number;
  submit(bytes: Uint8Array): Promise<KeyResult>;
  /**
   * Once no key is in flight: admits the certifications aside whose issuer is stored now (KeyService.admitAwaiting,
   * spread over the workers). Gives the number of keys rewritten. A submitter without it admits as it writes.
   */
  settle?(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Validates and merges keys given as bytes, each as /pks/add does (KeyService.submitKeys), and says what
 * became of each, in order.
 */
export async function submitKeyBatch(keys: KeyService, batch: Uint8Array[]): Promise<KeyResult[]> {
  const results: KeyResult[] = [];
  const packets: Packet[][] = [];
  const positions: number[] = [];
  for (const [i, bytes] of batch.entries()) {
    try {
      packets.push(readPackets(bytes));
      positions.push(i);
    } catch (e) {
      results[i] = errorResult(bytes, e);
    }
  }
  try {
    const settled = await keys.submitKeys(packets, { source: 'import' });
    for (const [n, i] of positions.entries()) {
      const s = settled[n]!;
      results[i] = s.status === 'fulfilled' ? outcomeResult(s.value) : errorResult(batch[i]!, s.reason);
    }
  } catch (e) {
    for (const i of positions) results[i] = errorResult(batch[i]!, e);
  }
  return results;
}

function outcomeResult(outcome: KeyOutcome): KeyResult {
  return { status: outcome.status, fingerprint: outcome.fingerprint, awaitsIssuers: outcome.dropped.some((d) => d.awaitsIssuer === true) };
}

function errorResult(bytes: Uint8Array, e: unknown): KeyResult {
  const fingerprint = primaryFingerprint(bytes);
  if (isCertRejected(e))
    return { status: 'rejected', reason: e.reason, ...((e.fingerprint ?? fingerprint) ? { fingerprint: e.fingerprint ?? fingerprint } : {}) };
  return {
    status: 'failed',
    reason: e instanceof Error ? e.message : String(e),
    fatal: isDatabaseUnavailable(e),
    ...(fingerprint ? { fingerprint } : {}),
  };
}

export interface BatchingOptions {
  /** A batch goes as soon as it holds this many keys (default 256)... */
  batchKeys?: number;
  /** ...or this many bytes of keys (default 8 MiB). */
  batchBytes?: number;
}

/** Fewer batches than this in flight: a batch goes without waiting to fill (a lone key is not held back). */
const IDLE_BATCHES = 2;

/**
 * Merges keys in batches (submitKeyBatch), each key with its own result. Keys submitted while batches are being
 * merged wait and go together, so batches grow with the load (as a group commit does): a batch goes when it is
 * full, or, at the end of the event-loop turn it was started in, when fewer than two batches are in flight.
 */
export class KeyBatcher {
  private pending: { bytes: Uint8Array; resolve: (result: KeyResult) => void }[] = [];
  private pendingBytes = 0;
  private running = 0;
  private scheduled = false;
  private readonly batchKeys: number;
  private readonly batchBytes: number;

  constructor(
    private readonly keys: KeyService,
    options: BatchingOptions = {},
  ) {
    this.batchKeys = options.batchKeys ?? 256;
    this.batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
  }

  submit(bytes: Uint8Array): Promise<KeyResult> {
    return new Promise((resolve) => {
      this.pending.push({ bytes, resolve });
      this.pendingBytes += bytes.length;
      if (this.pending.length >= this.batchKeys || this.pendingBytes >= this.batchBytes) this.send();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running < IDLE_BATCHES) this.send();
    });
  }

  private send(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.running++;
    void submitKeyBatch(
      this.keys,
      batch.map((b) => b.bytes),
    ).then((results) => {
      this.running--;
      for (const [i, b] of batch.entries()) b.resolve(results[i]!);
      if (this.pending.length > 0) this.schedule();
    });
  }
}

/** Merges keys in this thread, in batches (KeyBatcher); capacity: keys in flight. */
export function inProcessSubmitter(keys: KeyService, capacity = 16, options: BatchingOptions = {}): KeySubmitter {
  const batcher = new KeyBatcher(keys, options);
  return { capacity, submit: (bytes) => batcher.submit(bytes), settle: () => keys.admitAwaiting(), close: async () => {} };
}

export interface ImportProgress {
  phase: 'keys' | 'certifications';
  /** Keys done (this phase). */
  keys: number;
  /** Keys to do, when known (certification pass). */
  totalKeys: number | null;
  bytesRead: number;
  totalBytes: number | null;
  elapsedMs: number;
  source: string;
}

export interface ImportReport {
  kind: 'skipped' | 'rejected' | 'failed' | 'unreadable';
  source: string;
  /** Where in the source, e.g. "byte 1234" or "armor block at line 12, byte 40". */
  where?: string;
  reason: string;
  fingerprint?: string;
  bytes?: number;
}

export interface ImportSummary {
  files: number;
  /** Files in the folders given that were not read (no key file name). */
  ignoredFiles: string[];
  keys: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  failed: number;
  /** Why keys were rejected or failed, and why input was skipped, with counts. */
  reasons: Record<string, number>;
  skippedRegions: number;
  skippedBytes: number;
  /** Keys merged again in the certification pass. */
  certificationPass: number;
  /** Keys rewritten at the end with the certifications aside that keys imported after them issued. */
  certifiedLater: number;
  bytesRead: number;
  seconds: number;
  keysPerSecond: number;
  interrupted: boolean;
  /** Why the import stopped early (e.g. the database went away); null when it ran to the end. */
  error: string | null;
}

export interface ImportOptions {
  submitter: KeySubmitter;
  /** Read for the path "-". */
  stdin?: AsyncIterable<Uint8Array> | Readable;
  /** Stops reading; keys in flight finish and the summary says interrupted. */
  signal?: AbortSignal;
  maxKeyBytes?: number;
  /** Bound on key bytes in flight at once (at least one key is always allowed). */
  maxBytesInFlight?: number;
  progressIntervalMs?: number;
  onProgress?: (progress: ImportProgress) => void;
  onReport?: (report: ImportReport) => void;
}

const STATUS_CODES: MergeStatus[] = ['inserted', 'updated', 'unchanged'];

export async function runImport(paths: string[], options: ImportOptions): Promise<ImportSummary> {
  const { sources, ignored } = await findSources(paths, options.stdin);
  const run = new ImportRun(options, sources);
  return run.execute(ignored);
}

class ImportRun {
  private readonly started = Date.now();
  private readonly summary: ImportSummary;
  private readonly inFlight = new Set<Promise<void>>();
  // Who waits for a key in flight to finish (submit, drain): woken one at a time, as each finishes. Not
  // Promise.race over the keys in flight, which adds a reaction to each of them per wait (O(n²) for an import).
  private readonly waiting: (() => void)[] = [];
  private bytesInFlight = 0;
  private stopped = false;
  private spool: Spool | null = null;
  private progress: ImportProgress;
  private readonly totalBytes: number | null;

  constructor(
    private readonly options: ImportOptions,
    private readonly sources: ImportSource[],
  ) {
    this.summary = {
      files: sources.length,
      ignoredFiles: [],
      keys: 0,
      inserted: 0,
      updated: 0,
      unchanged: 0,
      rejected: 0,
      failed: 0,
      reasons: {},
      skippedRegions: 0,
      skippedBytes: 0,
      certificationPass: 0,
      certifiedLater: 0,
      bytesRead: 0,
      seconds: 0,
      keysPerSecond: 0,
      interrupted: false,
      error: null,
    };
    this.totalBytes = sources.every((s) => s.size !== null) ? sources.reduce((n, s) => n + s.size!, 0) : null;
    this.progress = { phase: 'keys', keys: 0, totalKeys: null, bytesRead: 0, totalBytes: this.totalBytes, elapsedMs: 0, source: '' };
  }

  async execute(ignored: string[]): Promise<ImportSummary> {
    this.summary.ignoredFiles = ignored;
    const onAbort = () => this.stop();
    this.options.signal?.addEventListener('abort', onAbort);
    if (this.options.signal?.aborted) this.stop();
    const timer = this.options.onProgress ? setInterval(() => this.reportProgress(), this.options.progressIntervalMs ?? 5000) : null;
    timer?.unref();
    this.spool = await Spool.create();
    try {
      for (const source of this.sources) {
        if (this.stopped) break;
        this.progress.source = source.name;
        await this.readSource(source);
      }
      await this.drain();
      // The import's writes keep certifications aside without admitting them: admitted here, each key once.
      await this.settle();
      // Without a new key no certification can have gained its issuer: nothing to merge again.
      if (!this.stopped && this.spool.count > 0 && this.summary.inserted > 0) {
        await this.certificationPass(this.spool);
        await this.drain();
        await this.settle();
      }
    } finally {
      if (timer) clearInterval(timer);
      this.options.signal?.removeEventListener('abort', onAbort);
      await this.drain();
      await this.spool.remove();
    }
    const seconds = (Date.now() - this.started) / 1000;
    this.summary.seconds = seconds;
    this.summary.keysPerSecond = seconds > 0 ? this.summary.keys / seconds : 0;
    this.summary.interrupted = this.options.signal?.aborted === true;
    return this.summary;
  }

  private stop(): void {
    this.stopped = true;
  }

  private reportProgress(): void {
    this.progress.elapsedMs = Date.now() - this.started;
    this.options.onProgress?.({ ...this.progress });
  }

  private async readSource(source: ImportSource): Promise<void> {
    const reader = new KeyStreamReader({ maxKeyBytes: this.options.maxKeyBytes });
    const stream = source.open();
    if (this.options.signal) addAbortSignal(this.options.signal, stream);
    try {
      for await (const chunk of stream as AsyncIterable<Uint8Array>) {
        this.summary.bytesRead += chunk.length;
        this.progress.bytesRead = this.summary.bytesRead;
        for (const item of reader.push(chunk)) {
          if (this.stopped) break;
          await this.handle(source, item);
        }
        if (this.stopped) break;
      }
      if (!this.stopped) for (const item of reader.end()) await this.handle(source, item);
    } catch (e) {
      // An abort destroys the stream on purpose; anything else is a read error of this source only.
      if (!this.stopped) {
        const reason = `cannot read: ${e instanceof Error ? e.message : String(e)}`;
        this.count(reason);
        this.report({ kind: 'unreadable', source: source.name, reason });
      }
    } finally {
      if (source.name !== '-') stream.destroy();
    }
  }

  private async handle(source: ImportSource, item: KeyStreamItem): Promise<void> {
    const where = `${item.block !== undefined ? `armor block at line ${item.block}, ` : ''}byte ${item.kind === 'skipped' && item.at !== undefined ? item.at : item.offset}`;
    if (item.kind === 'skipped') {
      this.summary.skippedRegions++;
      this.summary.skippedBytes += item.length;
      this.count(item.reason);
      this.report({
        kind: 'skipped',
        source: source.name,
        where,
        reason: item.reason,
        bytes: item.length,
        ...(item.fingerprint ? { fingerprint: item.fingerprint } : {}),
      });
      return;
    }
    await this.submit(item.bytes, (result) => {
      this.summary.keys++;
      this.progress.keys = this.summary.keys;
      this.tally(result, source.name, where);
      if (result.status !== 'rejected' && result.status !== 'failed' && result.awaitsIssuers) {
        return this.spool!.write(STATUS_CODES.indexOf(result.status), item.bytes);
      }
      return undefined;
    });
  }

  /** Starts a key's merge once there is room; `done` runs with its result. */
  private async submit(bytes: Uint8Array, done: (result: KeyResult) => Promise<void> | undefined): Promise<void> {
    const { submitter } = this.options;
    const maxBytes = this.options.maxBytesInFlight ?? 64 * 1024 * 1024;
    while (this.inFlight.size >= submitter.capacity || (this.inFlight.size > 0 && this.bytesInFlight + bytes.length > maxBytes)) {
      await this.oneFinished();
    }
    const size = bytes.length;
    this.bytesInFlight += size;
    const task = submitter
      .submit(bytes)
      .catch((e: unknown): KeyResult => ({ status: 'failed', reason: e instanceof Error ? e.message : String(e), fatal: true }))
      .then(done)
      .catch((e: unknown) => this.fail(`cannot write the certification pass file: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        this.inFlight.delete(task);
        this.bytesInFlight -= size;
        this.waiting.shift()?.();
      });
    this.inFlight.add(task);
  }

  private tally(result: KeyResult, source: string, where: string): void {
    if (result.status === 'rejected' || result.status === 'failed') {
      this.summary[result.status]++;
      this.count(result.status === 'failed' ? `error: ${result.reason}` : result.reason);
      this.report({ kind: result.status, source, where, reason: result.reason, ...(result.fingerprint ? { fingerprint: result.fingerprint } : {}) });
      if (result.status === 'failed' && result.fatal) this.fail(result.reason);
      return;
    }
    this.summary[result.status]++;
  }

  private fail(reason: string): void {
    this.summary.error ??= reason;
    this.stop();
  }

  /** Merges again the keys whose certifications waited for an issuer, now that every key is stored. */
  private async certificationPass(spool: Spool): Promise<void> {
    this.progress = { ...this.progress, phase: 'certifications', keys: 0, totalKeys: spool.count };
    for await (const record of spool.read()) {
      if (this.stopped) break;
      const before = STATUS_CODES[record.tag]!;
      await this.submit(record.bytes, (result) => {
        this.summary.certificationPass++;
        this.progress.keys++;
        if (result.status === 'updated' && before === 'unchanged') {
          this.summary.unchanged--;
          this.summary.updated++;
        } else if (result.status === 'rejected' || result.status === 'failed') {
          // The key is stored (first pass); only certifications it could have gained are missing.
          const reason = `certification pass: ${result.reason}`;
          this.count(reason);
          this.report({
            kind: result.status,
            source: 'certification pass',
            reason,
            ...(result.fingerprint ? { fingerprint: result.fingerprint } : {}),
          });
          if (result.status === 'failed' && result.fatal) this.fail(result.reason);
        }
        return undefined;
      });
    }
  }

  private async settle(): Promise<void> {
    if (this.stopped) return; // what an interrupted import kept aside, a re-run admits
    try {
      this.summary.certifiedLater += (await this.options.submitter.settle?.()) ?? 0;
    } catch (e) {
      this.fail(`cannot admit the certifications kept aside: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await this.oneFinished();
  }

  private oneFinished(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private count(reason: string): void {
    this.summary.reasons[reason] = (this.summary.reasons[reason] ?? 0) + 1;
  }

  private report(report: ImportReport): void {
    this.options.onReport?.(report);
  }
}
