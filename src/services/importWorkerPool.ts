// Key merges spread over worker threads (node:worker_threads), so parsing and signature verification use
// every core. Each worker runs a script that builds its own database pool and KeyService and answers
// { id, bytes } messages with { id, result }; this side hands each key to the least busy worker.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { KeyResult, KeySubmitter } from './importService.js';

export type WorkerRequest =
  | { kind: 'key'; id: number; bytes: Uint8Array }
  /** KeyService.admitAwaiting of this part of the certified keys. */
  | { kind: 'settle'; index: number; of: number }
  | { kind: 'close' };
export type WorkerResponse =
  | { kind: 'ready' }
  | { kind: 'startFailed'; message: string }
  | { kind: 'result'; id: number; result: KeyResult }
  | { kind: 'settled'; rewritten: number }
  | { kind: 'settleFailed'; message: string }
  | { kind: 'closed' };

export interface WorkerPoolOptions {
  /** The worker script (its module URL). */
  script: URL;
  /** Passed to each worker as workerData. */
  data: unknown;
  workers: number;
  /** Keys in flight per worker. */
  perWorker: number;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, (result: KeyResult) => void>;
  /** The sweep it runs (settle), answered by its next settled or settleFailed message. */
  settling: ((m: WorkerResponse) => void) | null;
  dead: string | null;
  exited: Promise<void>;
}

// Under tsx or vitest the script is TypeScript: the worker first registers tsx's loader, then imports it
// (loader hooks given to the main thread do not reach workers, nor does `--import tsx` in execArgv on Node 20).
function spawn(script: URL, workerData: unknown): Worker {
  if (!script.pathname.endsWith('.ts')) return new Worker(script, { workerData });
  const require = createRequire(script);
  const tsxPackage = require.resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(tsxPackage, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  const tsxApi = pathToFileURL(path.join(path.dirname(tsxPackage), exports['./esm/api']!.import.default)).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(script.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

export async function startWorkerPool(options: WorkerPoolOptions): Promise<KeySubmitter> {
  const workers: PoolWorker[] = [];
  let nextId = 0;
  const closeAll = async () => {
    await Promise.all(workers.map((w) => stopWorker(w)));
  };
  const ready: Promise<void>[] = [];
  try {
    for (let i = 0; i < options.workers; i++) {
      const worker = spawn(options.script, options.data);
      const entry: PoolWorker = {
        worker,
        pending: new Map(),
        settling: null,
        dead: null,
        exited: new Promise((resolve) => worker.once('exit', () => resolve())),
      };
      workers.push(entry);
      ready.push(waitReady(worker));
      const die = (why: string) => {
        if (entry.dead) return;
        entry.dead = why;
        // Keys in flight there may or may not be stored: the import stops, and a re-run finishes them.
        for (const resolve of entry.pending.values()) resolve({ status: 'failed', reason: why, fatal: true });
        entry.pending.clear();
        entry.settling?.({ kind: 'settleFailed', message: why });
      };
      worker.on('message', (m: WorkerResponse) => {
        if (m.kind === 'settled' || m.kind === 'settleFailed') entry.settling?.(m);
        if (m.kind !== 'result') return;
        const resolve = entry.pending.get(m.id);
        entry.pending.delete(m.id);
        resolve?.(m.result);
      });
      worker.on('error', (e) => die(`import worker failed: ${e.message}`));
      worker.on('exit', (code) => die(`import worker exited (code ${code})`));
    }
    await Promise.all(ready);
  } catch (e) {
    await closeAll();
    throw e;
  }
  return {
    capacity: options.workers * options.perWorker,
    submit(bytes: Uint8Array): Promise<KeyResult> {
      const live = workers.filter((w) => !w.dead);
      if (live.length === 0) return Promise.resolve({ status: 'failed', reason: workers[0]?.dead ?? 'no import worker', fatal: true });
      const target = live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = nextId++;
      return new Promise((resolve) => {
        target.pending.set(id, resolve);
        target.worker.postMessage({ kind: 'key', id, bytes } satisfies WorkerRequest);
      });
    },
    // Each worker sweeps its share of the certified keys, side by side.
    async settle(): Promise<number> {
      const counts = await Promise.all(
        workers.map(
          (w, index) =>
            new Promise<number>((resolve, reject) => {
              if (w.dead) return reject(new Error(w.dead));
              w.settling = (m) => {
                w.settling = null;
                if (m.kind === 'settled') resolve(m.rewritten);
                else reject(new Error(m.kind === 'settleFailed' ? m.message : 'import worker failed'));
              };
              w.worker.postMessage({ kind: 'settle', index, of: workers.length } satisfies WorkerRequest);
            }),
        ),
      );
      return counts.reduce((a, b) => a + b, 0);
    },
    close: closeAll,
  };
}

function waitReady(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerResponse) => {
      if (m.kind === 'ready') done(null);
      else if (m.kind === 'startFailed') done(new Error(m.message));
    };
    const onError = (e: Error) => done(e);
    const onExit = (code: number) => done(new Error(`import worker exited at start (code ${code})`));
    const done = (e: Error | null) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (e) reject(e);
      else resolve();
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/** Asks a worker to close its database and end; ends it by force if it does not within 10 s. */
async function stopWorker(entry: PoolWorker): Promise<void> {
  const { worker } = entry;
  entry.dead ??= 'closed';
  worker.postMessage({ kind: 'close' } satisfies WorkerRequest);
  const timeout = setTimeout(() => void worker.terminate(), 10_000);
  await entry.exited;
  clearTimeout(timeout);
}
