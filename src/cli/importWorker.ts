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
    database = await openDatabase({ url: data.config.DATABASE_URL, dataDir: data.config.DATA_DIR, poolSize: data.poolSize, sharedSession: data.sharedSession === true });
  } catch (e) {
    send({ kind: 'startFailed', message: e instanceof Error ? e.message : String(e) });
    return;
  }
  const batcher = new KeyBatcher(importKeyService(database.db, data.config));
  port.on('message', (m: WorkerRequest) => {
    if (m.kind === 'key') {
      void batcher.submit(m.bytes).then((result) => send({ kind: 'result', id: m.id, result }));
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
