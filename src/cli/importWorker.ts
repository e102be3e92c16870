// An import worker thread (started by services/importWorkerPool.ts): its own PostgreSQL pool and KeyService,
// merging the keys the main thread sends, as many at once as the main thread sends, in batches (KeyBatcher).
import { parentPort, workerData } from 'node:worker_threads';
import { KeyBatcher } from '../services/importService.js';
import type { WorkerRequest, WorkerResponse } from '../services/importWorkerPool.js';
import { openDatabase, type DatabaseHandle } from '../store/database.js';
import { importKeyService, type ImportWorkerData } from './import.js';

async function serve(port: NonNullable<typeof parentPort>, data: ImportWorkerData): Promise<void> {
  const send = (m: WorkerResponse) => port.postMessage(m);
  let database: DatabaseHandle;
  try {
    database = await openDatabase({
      url: data.config.DATABASE_URL,
      dataDir: data.config.DATA_DIR,
      poolSize: data.poolSize,
      sharedSession: data.sharedSession === true,
    });
  } catch (e) {
    send({ kind: 'startFailed', message: e instanceof Error ? e.message : String(e) });
    return;
  }
  const keys = importKeyService(database.db, data.config);
  const batcher = new KeyBatcher(keys);
  port.on('message', (m: WorkerRequest) => {
    if (m.kind === 'key') {
      void batcher.submit(m.bytes).then((result) => send({ kind: 'result', id: m.id, result }));
    } else if (m.kind === 'settle') {
      // Two halves of its share side by side: one merges while the other waits for the database.
      const halves = [0, 1].map((half) => keys.admitAwaiting({ index: 2 * m.index + half, of: 2 * m.of }));
      Promise.all(halves)
        .then(([a, b]) => a! + b!)
        .then(
          (rewritten) => send({ kind: 'settled', rewritten }),
          (e: unknown) => send({ kind: 'settleFailed', message: e instanceof Error ? e.message : String(e) }),
        );
    } else {
      // The main thread closes a worker only once no key is in flight in it.
      void database.close().finally(() => {
        send({ kind: 'closed' });
        port.close();
      });
    }
  });
  send({ kind: 'ready' });
}

if (parentPort) void serve(parentPort, workerData as ImportWorkerData);
