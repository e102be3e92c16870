// Cluster mode of `keystore serve` (WORKERS > 1, PostgreSQL only). The primary forks the workers (each a normal
// server with its own pool; the first migrates the database and the others start once it listens), passes
// SIGTERM/SIGINT on to them, restarts a worker that dies, and sums the workers' metrics for whichever worker answers
// GET /metrics. The primary serves no HTTP and loads none of the server's modules (main.ts starts it directly), so
// it stays small.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import { AppError } from './errors.js';
import type { ClusterMetrics } from './metrics.js';

/**
 * How many processes serve HTTP: WORKERS, with `auto` = one per CPU but one (at least 1, at most 64). The CPU
 * left is for PostgreSQL and the kernel's network work: on 2 cores a second worker added 8% to cached fetches
 * over new connections and doubled the server's memory (docs/operations.md "Workers").
 */
export function workerCount(config: Config, cpus: number): number {
  return config.WORKERS === 'auto' ? Math.max(1, Math.min(64, cpus - 1)) : config.WORKERS;
}

/** Each worker's share of DB_POOL_SIZE, which stays the limit of the whole server (at least 1 per worker). */
export function workerPoolSize(poolSize: number, workers: number): number {
  return Math.max(1, Math.floor(poolSize / workers));
}

/** Consecutive failed starts (exit before listening, or within MIN_UPTIME_MS of it) after which the primary gives up. */
export const MAX_FAILED_STARTS = 5;
const MIN_UPTIME_MS = 10_000;
/** How long the primary waits for the workers' registries, and a worker's GET /metrics for the primary's sum. */
const COLLECT_TIMEOUT_MS = 5000;
const METRICS_TIMEOUT_MS = COLLECT_TIMEOUT_MS + 2000;
// TLS session tickets (docs/https.md "Handshake cost"): one key for all workers, so that a client resumes its
// session on whichever worker its next connection reaches; replaced this often, so that a ticket key seen by
// an attacker later opens only the sessions of one period.
const TICKET_KEY_ROTATION_MS = 12 * 3600_000;

/** Wait before forking again after `failures` consecutive failed starts: 0.1 s after a worker ran well, then 0.5, 1, 2, 4 s. */
export function restartDelayMs(failures: number): number {
  return failures === 0 ? 100 : Math.min(8000, 500 * 2 ** (failures - 1));
}

// Messages between the primary and its workers. A scrape: the worker asks for `metrics`, the primary asks every
// worker listening to `collect` its registry (prom-client's JSON form), sums them and answers the text.
type WorkerMessage =
  | { type: 'keystore:ready'; url: string; httpsUrl?: string | undefined }
  | { type: 'keystore:ticket-keys' }
  | { type: 'keystore:metrics'; id: number }
  | { type: 'keystore:collected'; id: number; metrics?: unknown[]; error?: string };
type PrimaryMessage =
  | { type: 'keystore:stop'; signal: NodeJS.Signals }
  /** The TLS session-ticket keys every worker uses (hex of 48 bytes); none without HTTPS. */
  | { type: 'keystore:ticket-keys'; keys: string | null }
  | { type: 'keystore:reload' }
  | { type: 'keystore:metrics'; id: number; text?: string; error?: string }
  | { type: 'keystore:collect'; id: number };

function isMessage<T extends { type: string }>(message: unknown): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { type?: unknown }).type === 'string' &&
    (message as { type: string }).type.startsWith('keystore:')
  );
}

export interface PrimaryOptions {
  config: Config;
  logger: Logger;
  version: string;
  workers: number;
  /** Environment added to each worker's (main.ts: MALLOC_ARENA_MAX). */
  workerEnv?: Record<string, string>;
}

// Memory per worker: V8's young generation at most 4 MB per semi-space instead of 16 (a lookup makes little
// garbage; measured: 20-30 MB less resident memory per worker for no loss of requests per second), and the old
// generation collected once it has grown by half instead of letting it reach several times what is live
// (docs/operations.md "Memory"). A flag given to node itself comes later and wins.
const WORKER_V8_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=25'];

/**
 * Runs the primary until the workers have stopped: resolves to the exit code, 0 when every worker stopped
 * cleanly after SIGTERM/SIGINT, 1 when a worker failed to start or the primary gave up restarting them.
 */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { config, logger, workers } = options;

  // The operating system hands each new connection to a worker blocked in accept(): with short connections this
  // serves about twice the requests of Node's round robin through the primary. Must be set before the first fork.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ execArgv: [...WORKER_V8_FLAGS, ...process.execArgv] });

  return new Promise<number>((resolve) => {
    const live = new Map<number, { worker: Worker; readyAt: number | undefined }>();
    const restarts = new Set<NodeJS.Timeout>();
    let allListening = false;
    let failures = 0;
    let stopping: NodeJS.Signals | 'give up' | undefined;
    let signals = 0;
    let exitCode = 0;
    let killTimer: NodeJS.Timeout | undefined;
    let nextCollection = 0;
    // 48 bytes: node's ticket key name, HMAC secret and AES key.
    let ticketKeys = config.TLS_CERT_FILE !== undefined ? randomBytes(48).toString('hex') : null;
    const rotation =
      ticketKeys === null
        ? undefined
        : setInterval(() => {
            ticketKeys = randomBytes(48).toString('hex');
            for (const { worker } of live.values()) send(worker, { type: 'keystore:ticket-keys', keys: ticketKeys });
          }, TICKET_KEY_ROTATION_MS);
    rotation?.unref();
    const collections = new Map<
      number,
      { waiting: Set<number>; registries: unknown[][]; settle: (e: Error | undefined, registries?: unknown[][]) => void }
    >();

    /**
     * Every listening worker's registry, summed by prom-client's AggregatorRegistry (as its clusterMetrics() does,
     * but asking only workers that listen: one still starting would not answer yet).
     */
    const collect = () =>
      new Promise<string>((resolveText, rejectText) => {
        const listening = [...live.values()].filter((w) => w.readyAt !== undefined && w.worker.isConnected());
        if (listening.length === 0) {
          rejectText(new Error('no worker is listening'));
          return;
        }
        const id = nextCollection++;
        const timer = setTimeout(() => settle(new Error(`a worker did not send its metrics within ${COLLECT_TIMEOUT_MS} ms`)), COLLECT_TIMEOUT_MS);
        const settle = (e: Error | undefined, registries?: unknown[][]) => {
          collections.delete(id);
          clearTimeout(timer);
          if (e) rejectText(e);
          // Loaded on the first scrape only: the primary stays small until metrics are asked for.
          else
            import('prom-client').then(({ AggregatorRegistry }) => AggregatorRegistry.aggregate(registries!).metrics()).then(resolveText, rejectText);
        };
        collections.set(id, { waiting: new Set(listening.map((w) => w.worker.id)), registries: [], settle });
        for (const { worker } of listening) send(worker, { type: 'keystore:collect', id });
      });

    const send = (worker: Worker, message: PrimaryMessage) => {
      if (worker.isConnected()) worker.send(message, undefined, () => {}); // a worker gone meanwhile: its exit is handled
    };
    let forked = 0;
    const fork = () => {
      forked++;
      const worker = cluster.fork(options.workerEnv);
      live.set(worker.id, { worker, readyAt: undefined });
    };
    const finish = () => {
      cluster.removeListener('exit', onExit);
      cluster.removeListener('message', onMessage);
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGHUP', onReload);
      if (killTimer) clearTimeout(killTimer);
      clearInterval(rotation);
      logger.info({ exitCode }, 'stopped: all workers have exited');
      resolve(exitCode);
    };
    const stop = (reason: NodeJS.Signals | 'give up') => {
      stopping = reason;
      for (const timer of restarts) clearTimeout(timer);
      restarts.clear();
      const signal = reason === 'give up' ? 'SIGTERM' : reason;
      // Workers still starting get it when they report listening (they may not be reading messages yet).
      for (const { worker, readyAt } of live.values()) if (readyAt !== undefined) send(worker, { type: 'keystore:stop', signal });
      // Each worker stops within SHUTDOWN_TIMEOUT_MS; one that does not (a start hanging on the database) is killed.
      killTimer = setTimeout(() => {
        for (const { worker } of live.values()) {
          logger.error({ worker: worker.id, workerPid: worker.process.pid }, `worker ${worker.id} did not stop in time: killing it`);
          worker.process.kill('SIGKILL');
        }
      }, config.SHUTDOWN_TIMEOUT_MS + 5000);
      if (live.size === 0) finish();
    };

    function onSignal(signal: NodeJS.Signals) {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: killing the workers without waiting');
        for (const { worker } of live.values()) worker.process.kill('SIGKILL');
        exitCode = 1;
        return; // their exits end the primary
      }
      logger.info({ signal, workers: live.size, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: stopping the workers');
      if (stopping) {
        // Already giving up: pass the signal on anyway (the workers treat a repeated stop as the same one).
        for (const { worker } of live.values()) send(worker, { type: 'keystore:stop', signal });
        return;
      }
      stop(signal);
    }

    // SIGHUP (docs/https.md): every worker reads the certificate files again. Installed only with HTTPS, as a
    // worker: node's default for SIGHUP ends the process.
    function onReload() {
      logger.info({ workers: live.size }, 'SIGHUP: the workers reload the TLS certificate');
      for (const { worker, readyAt } of live.values()) if (readyAt !== undefined) send(worker, { type: 'keystore:reload' });
    }

    function onMessage(worker: Worker, message: unknown) {
      if (!isMessage<WorkerMessage>(message)) return;
      const entry = live.get(worker.id);
      if (message.type === 'keystore:ready' && entry) {
        entry.readyAt = Date.now();
        const where = message.httpsUrl ? `${message.url} and ${message.httpsUrl}` : message.url;
        logger.info(
          { worker: worker.id, workerPid: worker.process.pid, workerUrl: message.url, workerHttpsUrl: message.httpsUrl },
          `worker ${worker.id} (pid ${worker.process.pid}) listening on ${where}`,
        );
        if (stopping) {
          send(worker, { type: 'keystore:stop', signal: stopping === 'give up' ? 'SIGTERM' : stopping });
        } else if (!allListening && forked < workers) {
          // The first worker has migrated the database: the others can start (their migration check finds nothing).
          while (forked < workers) fork();
        } else if (!allListening && [...live.values()].filter((w) => w.readyAt !== undefined).length === workers) {
          allListening = true;
          logger.info({ workers, url: message.url, httpsUrl: message.httpsUrl }, `all ${workers} workers listening`);
        }
      } else if (message.type === 'keystore:ticket-keys') {
        send(worker, { type: 'keystore:ticket-keys', keys: ticketKeys });
      } else if (message.type === 'keystore:collected') {
        const collection = collections.get(message.id);
        if (!collection?.waiting.delete(worker.id)) return;
        if (message.metrics === undefined) collection.settle(new Error(`worker ${worker.id}: ${message.error ?? 'no metrics'}`));
        else {
          collection.registries.push(message.metrics);
          if (collection.waiting.size === 0) collection.settle(undefined, collection.registries);
        }
      } else if (message.type === 'keystore:metrics') {
        const id = message.id;
        collect().then(
          (text) => send(worker, { type: 'keystore:metrics', id, text }),
          (e: unknown) => send(worker, { type: 'keystore:metrics', id, error: e instanceof Error ? e.message : String(e) }),
        );
      }
    }

    function onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null) {
      const entry = live.get(worker.id);
      if (!entry) return;
      live.delete(worker.id);
      for (const collection of collections.values()) {
        if (collection.waiting.has(worker.id)) collection.settle(new Error(`worker ${worker.id} exited during the scrape`));
      }
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      const fields = { worker: worker.id, workerPid: worker.process.pid, code, signal };
      if (stopping) {
        if (code !== 0) exitCode = 1;
        logger.info(fields, `worker ${worker.id} (pid ${worker.process.pid}) ${how}`);
        if (live.size === 0) finish();
        return;
      }
      const failedStart = entry.readyAt === undefined;
      failures = failedStart || Date.now() - entry.readyAt! < MIN_UPTIME_MS ? failures + 1 : 0;
      if (failedStart && !allListening) {
        // Like a single process that cannot listen or reach the database: no point in trying again.
        logger.error(fields, `worker ${worker.id} (pid ${worker.process.pid}) ${how} before listening: giving up`);
        exitCode = 1;
        stop('give up');
        return;
      }
      if (failures >= MAX_FAILED_STARTS) {
        logger.error(
          { ...fields, failures },
          `worker ${worker.id} (pid ${worker.process.pid}) ${how}; ${failures} failed starts in a row: giving up`,
        );
        exitCode = 1;
        stop('give up');
        return;
      }
      const delay = restartDelayMs(failures);
      logger.error({ ...fields, restartInMs: delay }, `worker ${worker.id} (pid ${worker.process.pid}) ${how}; restarting it in ${delay} ms`);
      const timer = setTimeout(() => {
        restarts.delete(timer);
        if (!stopping) fork();
      }, delay);
      restarts.add(timer);
    }

    cluster.on('exit', onExit);
    cluster.on('message', onMessage);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    if (config.TLS_CERT_FILE !== undefined) process.on('SIGHUP', onReload);
    const where = `PostgreSQL (DATABASE_URL), pool of ${workerPoolSize(config.DB_POOL_SIZE, workers)} per worker`;
    const ports = [
      config.PORT === 'off' ? '' : `${config.HOST}:${config.PORT}`,
      config.TLS_CERT_FILE === undefined ? '' : `https on ${config.HOST}:${config.HTTPS_PORT}`,
    ]
      .filter(Boolean)
      .join(' and ');
    logger.info({ workers, database: 'postgresql' }, `keystore ${options.version} starting ${workers} workers on ${ports}, ${where}`);
    // One worker first: it runs the migrations alone (two at once could both try to create the migration tables).
    fork();
  });
}

/** A worker's side of the link to the primary. */
export interface PrimaryLink {
  metrics: ClusterMetrics;
  /** Tells the primary this worker listens (after startServer). */
  ready(url: string, httpsUrl?: string): void;
  /** Calls `listener` when the primary passes a signal on (at once if it already has). */
  onStop(listener: (signal: NodeJS.Signals) => void): void;
  /** Calls `listener` when the primary passes SIGHUP on (reload the certificate). */
  onReload(listener: () => void): void;
  /** The cluster's TLS session-ticket keys (asked of the primary before listening); undefined without HTTPS. */
  ticketKeys(): Promise<Buffer | undefined>;
  /** Calls `listener` with new ticket keys when the primary replaces them. */
  onTicketKeys(listener: (keys: Buffer) => void): void;
}

/** In a worker: sends the primary this worker's registry when it collects, and asks it for the sum. */
export function connectToPrimary(): PrimaryLink {
  let registry: Registry | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let stopListener: ((signal: NodeJS.Signals) => void) | undefined;
  let stopSignal: NodeJS.Signals | undefined;
  let reloadListener: (() => void) | undefined;
  let ticketKeysListener: ((keys: Buffer) => void) | undefined;
  let ticketKeysAnswer: ((keys: Buffer | undefined) => void) | undefined;
  const unavailable = (why: string) => new AppError(503, 'unavailable', `metrics of the other workers are not available: ${why}`);

  process.on('message', (message: unknown) => {
    if (!isMessage<PrimaryMessage>(message)) return;
    if (message.type === 'keystore:stop') {
      stopSignal = message.signal;
      stopListener?.(message.signal);
    } else if (message.type === 'keystore:reload') {
      reloadListener?.();
    } else if (message.type === 'keystore:ticket-keys') {
      const keys = message.keys === null ? undefined : Buffer.from(message.keys, 'hex');
      if (ticketKeysAnswer) {
        ticketKeysAnswer(keys);
        ticketKeysAnswer = undefined;
      } else if (keys) {
        ticketKeysListener?.(keys);
      }
    } else if (message.type === 'keystore:collect') {
      const id = message.id;
      const reply = (answer: WorkerMessage) => process.send?.(answer, undefined, {}, () => {}); // the primary may be gone
      if (!registry) reply({ type: 'keystore:collected', id, error: 'not started' });
      else
        registry.getMetricsAsJSON().then(
          (metrics) => reply({ type: 'keystore:collected', id, metrics }),
          (e: unknown) => reply({ type: 'keystore:collected', id, error: e instanceof Error ? e.message : String(e) }),
        );
    } else if (message.type === 'keystore:metrics') {
      const request = pending.get(message.id);
      if (!request) return; // timed out already
      pending.delete(message.id);
      clearTimeout(request.timer);
      if (message.text !== undefined) request.resolve(message.text);
      else request.reject(unavailable(message.error ?? 'no answer'));
    }
  });

  return {
    metrics: {
      share(shared: Registry) {
        registry = shared;
      },
      render() {
        return new Promise<string>((resolve, reject) => {
          if (!process.send || !process.connected) {
            reject(unavailable('the primary process is gone'));
            return;
          }
          const id = nextId++;
          const timer = setTimeout(() => {
            pending.delete(id);
            reject(unavailable('the primary did not answer in time'));
          }, METRICS_TIMEOUT_MS);
          pending.set(id, { resolve, reject, timer });
          process.send({ type: 'keystore:metrics', id } satisfies WorkerMessage, undefined, {}, (e: Error | null) => {
            if (!e) return;
            pending.delete(id);
            clearTimeout(timer);
            reject(unavailable(e.message));
          });
        });
      },
    },
    ready(url, httpsUrl) {
      process.send?.({ type: 'keystore:ready', url, httpsUrl } satisfies WorkerMessage);
    },
    onStop(listener) {
      stopListener = listener;
      if (stopSignal) listener(stopSignal);
    },
    onReload(listener) {
      reloadListener = listener;
    },
    ticketKeys() {
      return new Promise<Buffer | undefined>((resolve) => {
        // Without an answer in time (the primary gone), this worker's own random keys: resumption only on it.
        const timer = setTimeout(() => {
          ticketKeysAnswer = undefined;
          resolve(undefined);
        }, METRICS_TIMEOUT_MS);
        ticketKeysAnswer = (keys) => {
          clearTimeout(timer);
          resolve(keys);
        };
        if (!process.send?.({ type: 'keystore:ticket-keys' } satisfies WorkerMessage, undefined, {}, () => {})) {
          // Not sent: answered at once with none.
          ticketKeysAnswer(undefined);
          ticketKeysAnswer = undefined;
        }
      });
    },
    onTicketKeys(listener) {
      ticketKeysListener = listener;
    },
  };
}
