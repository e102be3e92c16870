// keystore import PATH...: loads keyrings, keydumps and armored files (or "-", stdin) into the store with the
// rules of /pks/add; see services/importService.ts. With PostgreSQL, worker threads merge the keys.
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import { keyLimits } from '../keyLimits.js';
import {
  inProcessSubmitter,
  runImport,
  type ImportProgress,
  type ImportReport,
  type ImportSummary,
  type KeySubmitter,
} from '../services/importService.js';
import { startWorkerPool } from '../services/importWorkerPool.js';
import { KeyService } from '../services/keyService.js';
import { AuditRepository } from '../store/auditRepository.js';
import type { DatabaseHandle } from '../store/database.js';
import { KeyRepository } from '../store/keyRepository.js';
import { openMigratedDatabase, type CliContext } from './context.js';

type Db = DatabaseHandle['db'];

/**
 * The KeyService an import merges with: the server's, without metrics, and admitting the certifications its keys
 * keep aside only when asked (runImport does at its end; see KeyServiceOptions.deferAdmission).
 */
export function importKeyService(db: Db, config: Config): KeyService {
  return new KeyService(new KeyRepository(db), new AuditRepository(db), { limits: keyLimits(config), deferAdmission: true });
}

/** What each import worker thread gets (see importWorker.ts). */
export interface ImportWorkerData {
  config: Config;
  poolSize: number;
  /** DATABASE_URL is an embedded database's socket (see store/embedded.ts). */
  sharedSession?: boolean;
}

// Connections per worker thread: it writes its keys in batches, a few at a time (KeyBatcher).
const WORKER_POOL_SIZE = 4;

/**
 * Worker threads merging keys, each with its own pool to config.DATABASE_URL: PostgreSQL, or an embedded database
 * through the socket of the server running on it (`sharedSession`).
 */
export function startImportWorkers(config: Config, workers: number, perWorker: number, sharedSession = false): Promise<KeySubmitter> {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const data: ImportWorkerData = { config, poolSize: Math.min(perWorker, WORKER_POOL_SIZE), sharedSession };
  return startWorkerPool({ script: new URL(`./importWorker.${ext}`, import.meta.url), data, workers, perWorker });
}

interface ImportCommandOptions {
  workers: string;
  concurrency: string;
  verbose?: boolean;
  json?: boolean;
}

export function registerImport(program: Command, ctx: CliContext): void {
  program
    .command('import')
    .description('import keys from files, folders (their *.gpg, *.pgp, *.asc, *.key, *.pub files, recursively) or - (stdin); binary or armored')
    .argument('<paths...>', 'files, folders, or - for standard input')
    .option('--workers <n>', 'worker threads merging keys, with PostgreSQL (0 = in the main thread)', String(availableParallelism()))
    .option('--concurrency <n>', 'keys in flight at once (merged in batches)', '256')
    .option('--verbose', 'report each rejected key, not only the counts')
    .option('--json', 'print the summary as JSON')
    .action(async (paths: string[], options: ImportCommandOptions) => {
      const config = ctx.config();
      const concurrency = positiveInt(options.concurrency, '--concurrency');
      const requestedWorkers = nonNegativeInt(options.workers, '--workers');
      const database = await openMigratedDatabase(ctx, 'import');
      // Worker threads need a database they can connect to: PostgreSQL, or a running server's embedded one.
      const connection = database.connection;
      const workers = connection ? requestedWorkers : 0;
      let submitter: KeySubmitter;
      try {
        submitter =
          connection && workers > 0
            ? await startImportWorkers(
                { ...config, DATABASE_URL: connection.url },
                workers,
                Math.ceil(concurrency / workers),
                connection.sharedSession,
              )
            : inProcessSubmitter(importKeyService(database.db, config), concurrency);
      } catch (e) {
        await database.close();
        throw e;
      }
      const controller = new AbortController();
      let signalled: NodeJS.Signals | null = null;
      const onSignal = (signal: NodeJS.Signals) => {
        if (signalled) process.exit(128 + signalNumber(signal)); // a second Ctrl-C: stop now
        signalled = signal;
        ctx.warn(`\n${signal}: stopping; keys in flight are finishing (again to quit at once)`);
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const status = ctx.interactive && ctx.status ? ctx.status : null;
      ctx.warn(`importing ${paths.join(' ')} with ${workers > 0 ? `${workers} worker threads` : 'the main thread'}, ${concurrency} keys at once`);
      let summary: ImportSummary;
      try {
        summary = await runImport(paths, {
          submitter,
          ...(paths.includes('-') ? { stdin: process.stdin } : {}),
          signal: controller.signal,
          progressIntervalMs: status ? 250 : 5000,
          onProgress: (p) => (status ? status(formatProgress(p)) : ctx.warn(formatProgress(p))),
          onReport: (r) => {
            if (r.kind === 'rejected' && !options.verbose) return;
            if (status) status('');
            ctx.warn(formatReport(r));
          },
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        if (status) status('');
        await submitter.close();
        await database.close();
      }
      const maxRssBytes = process.resourceUsage().maxRSS * 1024;
      if (options.json) ctx.print(JSON.stringify({ ...summary, maxRssBytes }));
      else for (const line of formatSummary(summary, maxRssBytes)) ctx.print(line);
      if (summary.error) process.exitCode = 1;
      else if (summary.interrupted) process.exitCode = 128 + signalNumber(signalled ?? 'SIGINT');
    });
}

function signalNumber(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? 15 : 2;
}

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

function nonNegativeInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be 0 or a positive integer`);
  return n;
}

export function formatProgress(p: ImportProgress): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(p.keys / seconds) : 0;
  if (p.phase === 'certifications') {
    const percent = p.totalKeys ? ` (${Math.floor((100 * p.keys) / p.totalKeys)}%)` : '';
    return `certification pass: ${p.keys} of ${p.totalKeys ?? '?'} keys merged again${percent}`;
  }
  const parts = [`${p.keys} keys (${rate} keys/s)`];
  if (p.totalBytes) {
    const fraction = Math.min(1, p.bytesRead / p.totalBytes);
    const eta = fraction > 0 ? (seconds * (1 - fraction)) / fraction : null;
    parts.push(`${mib(p.bytesRead)} of ${mib(p.totalBytes)} (${Math.floor(fraction * 100)}%)`);
    if (eta !== null) parts.push(`ETA ${duration(eta)}`);
  } else {
    parts.push(`${mib(p.bytesRead)} read`);
  }
  parts.push(p.source);
  return parts.join(', ');
}

export function formatReport(r: ImportReport): string {
  const key = r.fingerprint ? ` key ${r.fingerprint}` : '';
  const where = r.where ? ` (${r.where})` : '';
  const bytes = r.kind === 'skipped' && r.bytes !== undefined ? `: ${r.bytes} bytes skipped` : '';
  return `${r.source}${where}:${key} ${r.kind}: ${r.reason}${bytes}`;
}

export function formatSummary(s: ImportSummary, maxRssBytes?: number): string[] {
  const state = s.error ? `stopped (${s.error})` : s.interrupted ? 'interrupted' : 'done';
  const lines = [
    `import ${state}: ${s.keys} keys from ${s.files} file(s), ${mib(s.bytesRead)}, in ${duration(s.seconds)} (${Math.round(s.keysPerSecond)} keys/s)`,
    `  inserted ${s.inserted}, updated ${s.updated}, unchanged ${s.unchanged}, rejected ${s.rejected}${s.failed ? `, failed ${s.failed}` : ''}`,
  ];
  if (s.certifiedLater > 0) lines.push(`  ${s.certifiedLater} key(s) rewritten at the end with certifications by keys imported after them`);
  if (s.certificationPass > 0) lines.push(`  ${s.certificationPass} key(s) merged again for certifications by keys imported after them`);
  if (s.skippedRegions > 0) lines.push(`  ${s.skippedRegions} unreadable part(s) of the input skipped (${s.skippedBytes} bytes)`);
  const reasons = Object.entries(s.reasons).sort((a, b) => b[1] - a[1]);
  if (reasons.length > 0) lines.push('  reasons:', ...reasons.map(([reason, n]) => `    ${String(n).padStart(6)}  ${reason}`));
  if (s.ignoredFiles.length > 0)
    lines.push(`  ${s.ignoredFiles.length} file(s) in the folders not read (not named *.gpg, *.pgp, *.asc, *.key, *.pub, *.keyring)`);
  if (maxRssBytes !== undefined) lines.push(`  peak memory (RSS): ${mib(maxRssBytes)}`);
  if (s.interrupted) lines.push('  run the same import again to finish it');
  return lines;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
