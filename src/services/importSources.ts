// What `keystore import` reads: the files named, the key files in the folders named (recursively), stdin for
// "-"; and the spool file of the certification pass (keys to merge once more after every key is stored).
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, readdir, realpath, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { AppError } from '../errors.js';

export interface ImportSource {
  /** The path, or "-" for standard input. */
  name: string;
  /** Bytes, when known beforehand (regular files). */
  size: number | null;
  open(): Readable;
}

// Inside folders only files named like key files are read (a folder may hold checksums, notes, trust DBs).
const KEY_FILE = /\.(gpg|pgp|asc|key|pub|keyring)$/i;
// Read size: small enough that bytes read (the progress shown) stay close to keys merged.
const CHUNK_BYTES = 64 * 1024;

/** The sources for the paths given, in order; folders expand to their key files sorted by name. */
export async function findSources(
  paths: string[],
  stdin?: AsyncIterable<Uint8Array> | Readable,
): Promise<{ sources: ImportSource[]; ignored: string[] }> {
  const sources: ImportSource[] = [];
  const ignored: string[] = [];
  const seenFolders = new Set<string>();
  const addFile = (file: string, size: number) => {
    sources.push({ name: file, size, open: () => createReadStream(file, { highWaterMark: CHUNK_BYTES }) });
  };
  const walk = async (folder: string): Promise<void> => {
    const real = await realpath(folder);
    if (seenFolders.has(real)) return;
    seenFolders.add(real);
    const names = (await readdir(folder)).filter((n) => !n.startsWith('.')).sort(byName);
    for (const name of names) {
      const file = path.join(folder, name);
      const info = await stat(file).catch(() => null);
      if (info?.isDirectory()) await walk(file);
      else if (info?.isFile() && KEY_FILE.test(name)) addFile(file, info.size);
      else ignored.push(file);
    }
  };
  for (const p of paths) {
    if (p === '-') {
      if (!stdin) throw new AppError(400, 'bad_request', 'no standard input to read');
      const input = stdin;
      sources.push({ name: '-', size: null, open: () => (input instanceof Readable ? input : Readable.from(input)) });
      continue;
    }
    const info = await stat(p).catch((e: NodeJS.ErrnoException) => {
      throw new AppError(400, 'bad_request', `cannot read ${p}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
    });
    if (info.isDirectory()) await walk(p);
    else addFile(p, info.size);
  }
  return { sources, ignored };
}

/** Natural order, so keystore-10.pgp comes after keystore-9.pgp. */
function byName(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Keys written aside with a one-byte tag each, read back in the same order. */
export class Spool {
  private constructor(
    private readonly folder: string,
    private readonly file: string,
    private readonly out: WriteStream,
  ) {}

  count = 0;
  /** One wait for 'drain' shared by every writer that found the stream full. */
  private drained: Promise<unknown> | null = null;

  static async create(): Promise<Spool> {
    const folder = await mkdtemp(path.join(tmpdir(), 'keystore-import-'));
    const file = path.join(folder, 'spool');
    return new Spool(folder, file, createWriteStream(file));
  }

  /** Appends a record; resolves once the stream can take more (bounded memory). */
  async write(tag: number, bytes: Uint8Array): Promise<void> {
    const header = Buffer.alloc(5);
    header[0] = tag;
    header.writeUInt32BE(bytes.length, 1);
    this.count++;
    this.out.write(header);
    if (!this.out.write(bytes)) await (this.drained ??= once(this.out, 'drain').finally(() => (this.drained = null)));
  }

  async *read(): AsyncGenerator<{ tag: number; bytes: Uint8Array }> {
    if (!this.out.closed) {
      this.out.end();
      await once(this.out, 'close');
    }
    let pending: Buffer = Buffer.alloc(0);
    for await (const chunk of createReadStream(this.file, { highWaterMark: CHUNK_BYTES })) {
      pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
      let at = 0;
      while (at + 5 <= pending.length) {
        const length = pending.readUInt32BE(at + 1);
        if (at + 5 + length > pending.length) break;
        yield { tag: pending[at]!, bytes: new Uint8Array(pending.subarray(at + 5, at + 5 + length)) };
        at += 5 + length;
      }
      pending = pending.subarray(at);
    }
  }

  async remove(): Promise<void> {
    if (!this.out.closed) {
      this.out.end();
      await once(this.out, 'close').catch(() => {});
    }
    await rm(this.folder, { recursive: true, force: true });
  }
}
