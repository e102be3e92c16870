// Export (`keystore export DIR`): every stored key, bytes as stored, in id order, as SKS-style keydump files
// of N binary keys each (keystore-0000.pgp, ...), then SHA256SUMS (sha256sum -c format) and a JSON manifest
// with the counts. Importing the folder into an empty store gives back the same keys byte for byte.
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { AppError } from '../errors.js';
import type { ExportQueries } from '../store/exportQueries.js';

export interface ExportedFile {
  name: string;
  keys: number;
  bytes: number;
  sha256: string;
}

export interface ExportSummary {
  keys: number;
  files: ExportedFile[];
  seconds: number;
}

export interface ExportOptions {
  keysPerFile: number;
  /** Keys read from the database at once. */
  pageSize?: number;
  onProgress?: (keys: number) => void;
}

export const CHECKSUM_FILE = 'SHA256SUMS';
export const MANIFEST_FILE = 'keystore-export.json';

interface OpenFile extends ExportedFile {
  out: WriteStream;
  hash: Hash;
}

export async function runExport(queries: ExportQueries, dir: string, options: ExportOptions): Promise<ExportSummary> {
  const started = Date.now();
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) {
    // Files of an earlier, larger export would be imported along with this one.
    throw new AppError(400, 'bad_request', `${dir} is not empty; export into a new or empty folder`);
  }
  const files: ExportedFile[] = [];
  let current: OpenFile | null = null;
  let keys = 0;
  const closeCurrent = async () => {
    if (!current) return;
    const { out, hash, ...file } = current;
    current = null;
    out.end();
    await once(out, 'close');
    files.push({ ...file, sha256: hash.digest('hex') });
  };
  try {
    await queries.forEachPage(options.pageSize ?? 500, async (page) => {
      for (const key of page) {
        if (current && current.keys >= options.keysPerFile) await closeCurrent();
        if (!current) {
          const name = `keystore-${String(files.length).padStart(4, '0')}.pgp`;
          const out = createWriteStream(path.join(dir, name));
          current = { name, keys: 0, bytes: 0, sha256: '', out, hash: createHash('sha256') };
        }
        const file: OpenFile = current;
        file.hash.update(key.packets);
        file.keys++;
        file.bytes += key.packets.length;
        keys++;
        if (!file.out.write(key.packets)) await once(file.out, 'drain');
      }
      options.onProgress?.(keys);
    });
    await closeCurrent();
  } finally {
    (current as OpenFile | null)?.out.destroy();
  }
  await writeFile(path.join(dir, CHECKSUM_FILE), files.map((f) => `${f.sha256}  ${f.name}\n`).join(''));
  const manifest = { format: 'keystore export', keys, keysPerFile: options.keysPerFile, exported: new Date().toISOString(), files };
  await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return { keys, files, seconds: (Date.now() - started) / 1000 };
}
