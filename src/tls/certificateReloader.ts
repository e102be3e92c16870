// Certificates renewed without a restart: on SIGHUP (serve.ts calls reload) and whenever the folder of either file
// changes (certbot and other ACME clients replace files by renaming or by swapping symlinks, Kubernetes swaps a
// `..data` symlink: so the folders are watched, not the files), the pair is read and checked again. A good new pair
// is put in use for new connections (connections open keep theirs); a bad one is refused with a log line and the
// pair in use stays.
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { loadCertificatePair, type CertificateFiles, type CertificatePair } from './certificates.js';

export type ReloadOutcome = 'reloaded' | 'unchanged' | 'refused';

export interface CertificateReloaderOptions {
  files: CertificateFiles;
  /** The pair in use at start. */
  current: CertificatePair;
  /** Puts a checked new pair in use. */
  apply(pair: CertificatePair): void;
  logger: Logger;
  /** Quiet time after the last change in a watched folder before reading the files (a renewal writes several). */
  settleMs?: number;
}

const DEFAULT_SETTLE_MS = 300;

export class CertificateReloader {
  private current: CertificatePair;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watchers: FSWatcher[] = [];
  private settleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: CertificateReloaderOptions) {
    this.current = options.current;
  }

  /** Reads the files again; one reload at a time, in order. `reason` goes in the log line. */
  reload(reason: string): Promise<ReloadOutcome> {
    const next = this.queue.then(() => this.reloadNow(reason));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Watches the folders of both files until close(); a folder that cannot be watched is logged (SIGHUP still works). */
  watch(): void {
    const { certFile, keyFile } = this.options.files;
    for (const folder of new Set([dirname(certFile), dirname(keyFile)])) {
      try {
        const watcher = watch(folder, { persistent: false }, () => this.changed());
        watcher.on('error', (e) => {
          this.options.logger.warn({ folder, err: e.message }, `watching ${folder} for new certificates stopped: send SIGHUP after a renewal`);
          watcher.close();
        });
        this.watchers.push(watcher);
      } catch (e) {
        this.options.logger.warn(
          { folder, err: e instanceof Error ? e.message : String(e) },
          `cannot watch ${folder} for new certificates: send SIGHUP after a renewal`,
        );
      }
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.settleTimer);
    for (const watcher of this.watchers.splice(0)) watcher.close();
  }

  private changed(): void {
    if (this.closed) return;
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => void this.reload('file change'), this.options.settleMs ?? DEFAULT_SETTLE_MS);
    this.settleTimer.unref();
  }

  private async reloadNow(reason: string): Promise<ReloadOutcome> {
    const { logger, files } = this.options;
    let pair: CertificatePair;
    try {
      pair = await loadCertificatePair(files);
    } catch (e) {
      logger.error(
        { reason, err: e instanceof Error ? e.message : String(e), servingExpires: this.current.notAfter.toISOString() },
        `new TLS certificate refused, still serving the previous one: ${e instanceof Error ? e.message : String(e)}`,
      );
      return 'refused';
    }
    if (pair.cert.equals(this.current.cert) && pair.key.equals(this.current.key)) return 'unchanged';
    try {
      this.options.apply(pair);
    } catch (e) {
      logger.error({ reason, err: e instanceof Error ? e.message : String(e) }, 'new TLS certificate refused by TLS, still serving the previous one');
      return 'refused';
    }
    this.current = pair;
    logger.info(
      { reason, subject: pair.subject, names: pair.names, expires: pair.notAfter.toISOString(), fingerprint: pair.fingerprint },
      `TLS certificate reloaded (${reason}): new connections get it`,
    );
    for (const warning of pair.warnings) logger.warn({ reason }, warning);
    return 'reloaded';
  }
}
