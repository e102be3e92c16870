// The benchmark's dataset: the Debian keyrings (when the debian-keyring package is installed) plus the first N
// synthetic keys of the cached pool; what to import, the facts the query lists are built from, and a keydump
// of the same keys for another keyserver (SKS).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, open, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fingerprintOf, readPackets, splitKeys, Tag } from '../src/openpgp/packets.js';
import { CHUNK, syntheticKeys, type KeyRecord, type PoolOptions } from './generate.js';

export const DEBIAN_KEYRINGS = ['debian-keyring', 'debian-maintainers', 'debian-nonupload', 'debian-role-keys'].map(
  (name) => `/usr/share/keyrings/${name}.gpg`,
);

/** The pool the dataset's synthetic keys come from, and the one of keys pushed as new (never in the dataset). */
export const DATASET_POOL = 'keys';
export const FRESH_POOL = 'fresh';

export interface Dataset {
  debianFiles: string[];
  debian: KeyRecord[];
  synthetic: KeyRecord[];
  /** Keydump files holding exactly the synthetic keys. */
  syntheticFiles: string[];
  all: KeyRecord[];
}

export interface DatasetOptions extends PoolOptions {
  syntheticCount: number;
  debian: boolean;
  /** Where a partial chunk (N not a multiple of CHUNK) is written. */
  workDir: string;
}

export async function loadDataset(options: DatasetOptions): Promise<Dataset> {
  const debianFiles = options.debian ? DEBIAN_KEYRINGS.filter((f) => existsSync(f)) : [];
  const debian: KeyRecord[] = [];
  for (const file of debianFiles) debian.push(...keyringRecords(file, new Uint8Array(await readFile(file))));
  const synthetic = options.syntheticCount > 0 ? await syntheticKeys(DATASET_POOL, options.syntheticCount, options) : [];
  const syntheticFiles = await keydumpFiles(synthetic, options.workDir);
  return { debianFiles, debian, synthetic, syntheticFiles, all: [...debian, ...synthetic] };
}

/** Facts of each key of a keyring file (binary transferable public keys back to back). */
export function keyringRecords(file: string, bytes: Uint8Array): KeyRecord[] {
  const records: KeyRecord[] = [];
  let start = 0;
  for (const packets of splitKeys(readPackets(bytes)).keys) {
    const last = packets[packets.length - 1]!;
    const end = last.body.byteOffset - bytes.byteOffset + last.body.length;
    const decoder = new TextDecoder();
    records.push({
      fingerprint: fingerprintOf(packets[0]!.body),
      subkeys: packets.filter((p) => p.tag === Tag.publicSubkey).map((p) => fingerprintOf(p.body)),
      userIds: packets.filter((p) => p.tag === Tag.userId).map((p) => decoder.decode(p.body)),
      file,
      offset: start,
      length: end - start,
    });
    start = end;
  }
  return records;
}

/** The cache's chunk files covering `keys` (the first N of a pool), plus one file for a partial last chunk. */
async function keydumpFiles(keys: KeyRecord[], workDir: string): Promise<string[]> {
  const files: string[] = [];
  const whole = Math.floor(keys.length / CHUNK);
  for (let c = 0; c < whole; c++) files.push(keys[c * CHUNK]!.file);
  const rest = keys.slice(whole * CHUNK);
  if (rest.length > 0) {
    const partial = path.join(workDir, `synthetic-${keys.length}.pgp`);
    await writeFile(partial, Buffer.concat(await readKeys(rest)));
    files.push(partial);
  }
  return files;
}

/** The binary keys of some records, in order. */
export async function readKeys(records: KeyRecord[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  try {
    for (const r of records) {
      let handle = handles.get(r.file);
      if (!handle) {
        handle = await open(r.file, 'r');
        handles.set(r.file, handle);
      }
      const buffer = new Uint8Array(r.length);
      await handle.read(buffer, 0, r.length, r.offset);
      out.push(buffer);
    }
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
  }
  return out;
}

/**
 * Writes keydump files (*.pgp) for another keyserver, e.g. `sks build DIR/*.pgp`: copies of `files` (by default
 * the whole dataset: its Debian keyrings, then its synthetic keys), or symbolic links to them with `link`.
 */
export async function writeKeydump(files: string[], dir: string, link = false): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [i, file] of files.entries()) {
    const target = path.join(dir, `keydump-${String(i).padStart(4, '0')}-${path.basename(file).replace(/\.(gpg|pgp)$/, '')}.pgp`);
    await (link ? symlink(path.resolve(file), target) : copyFile(file, target));
    written.push(target);
  }
  return written;
}

/** The files of the whole dataset, in the order they are imported. */
export const datasetFiles = (dataset: Dataset) => [...dataset.debianFiles, ...dataset.syntheticFiles];
