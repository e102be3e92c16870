// Synthetic keys, generated once and cached under bench/cache/<pool>/ as keydump files of CHUNK keys
// (chunk-00000.pgp, binary public keys back to back) with their facts beside them (chunk-00000.json).
// A pool grows as needed: N keys are always the first N of the pool, so every scale reuses the same keys.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { GenerateRequest, GenerateResponse, GeneratedKey } from './generateWorker.js';

export const CACHE_DIR = fileURLToPath(new URL('./cache/', import.meta.url));
export const CHUNK = 1000;

/** One key of the dataset: where its bytes are and what a query can find it by. */
export interface KeyRecord {
  fingerprint: string;
  subkeys: string[];
  userIds: string[];
  file: string;
  offset: number;
  length: number;
}

interface ChunkFacts {
  keys: { fingerprint: string; subkeys: string[]; userIds: string[]; length: number }[];
}

function chunkPath(pool: string, chunk: number, ext: 'pgp' | 'json'): string {
  return path.join(CACHE_DIR, pool, `chunk-${String(chunk).padStart(5, '0')}.${ext}`);
}

export interface PoolOptions {
  workers?: number;
  onProgress?: (done: number, total: number, keysPerSecond: number) => void;
}

/** The first `count` keys of a pool, generating (in worker threads) the chunks not cached yet. */
export async function syntheticKeys(pool: string, count: number, options: PoolOptions = {}): Promise<KeyRecord[]> {
  const chunks = Math.ceil(count / CHUNK);
  const missing: number[] = [];
  for (let c = 0; c < chunks; c++) if (!existsSync(chunkPath(pool, c, 'json'))) missing.push(c);
  if (missing.length > 0) await generateChunks(pool, missing, options);
  const records: KeyRecord[] = [];
  for (let c = 0; c < chunks && records.length < count; c++) {
    const facts = JSON.parse(await readFile(chunkPath(pool, c, 'json'), 'utf8')) as ChunkFacts;
    let offset = 0;
    for (const k of facts.keys) {
      if (records.length === count) break;
      records.push({ fingerprint: k.fingerprint, subkeys: k.subkeys, userIds: k.userIds, file: chunkPath(pool, c, 'pgp'), offset, length: k.length });
      offset += k.length;
    }
  }
  return records;
}

async function generateChunks(pool: string, chunks: number[], options: PoolOptions): Promise<void> {
  await mkdir(path.join(CACHE_DIR, pool), { recursive: true });
  const workerCount = Math.max(1, Math.min(options.workers ?? availableParallelism(), chunks.length));
  const queue = [...chunks];
  const total = chunks.length * CHUNK;
  const started = Date.now();
  let done = 0;
  const runWorker = async () => {
    const worker = spawnWorker(new URL(`./generateWorker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
    try {
      for (let chunk = queue.shift(); chunk !== undefined; chunk = queue.shift()) {
        const keys = await request(worker, { pool, from: chunk * CHUNK, to: (chunk + 1) * CHUNK });
        await writeChunk(pool, chunk, keys);
        done += keys.length;
        options.onProgress?.(done, total, done / ((Date.now() - started) / 1000));
      }
    } finally {
      await worker.terminate();
    }
  };
  await Promise.all(Array.from({ length: workerCount }, runWorker));
}

async function writeChunk(pool: string, chunk: number, keys: GeneratedKey[]): Promise<void> {
  const facts: ChunkFacts = {
    keys: keys.map((k) => ({ fingerprint: k.fingerprint, subkeys: k.subkeys, userIds: k.userIds, length: k.bytes.length })),
  };
  const pgp = chunkPath(pool, chunk, 'pgp');
  const json = chunkPath(pool, chunk, 'json');
  const suffix = `.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(pgp + suffix, Buffer.concat(keys.map((k) => k.bytes)));
  await writeFile(json + suffix, JSON.stringify(facts));
  try {
    // Two runs generating the same chunk at once: the first to link its .pgp writes the .json, the other
    // drops its keys, so a .json always describes the .pgp beside it. The .json, written last, marks the chunk done.
    try {
      await link(pgp + suffix, pgp);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (existsSync(json)) return;
      await rename(pgp + suffix, pgp); // left by a run that stopped before writing its .json
    }
    await rename(json + suffix, json);
  } finally {
    await rm(pgp + suffix, { force: true });
    await rm(json + suffix, { force: true });
  }
}

function request(worker: Worker, message: GenerateRequest): Promise<GeneratedKey[]> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
    };
    const onMessage = (m: GenerateResponse) => {
      cleanup();
      if (m.kind === 'keys') resolve(m.keys);
      else reject(new Error(`key generation failed: ${m.message}`));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.postMessage(message);
  });
}

// Under tsx the worker is TypeScript: it registers tsx's loader first (on Node 20 the main thread's loader
// does not reach worker threads), as src/services/importWorkerPool.ts does.
function spawnWorker(script: URL): Worker {
  if (!script.pathname.endsWith('.ts')) return new Worker(script);
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(script.href)}); })`;
  return new Worker(bootstrap, { eval: true });
}
