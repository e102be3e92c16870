// keystore import / export: the Debian keyrings, a corrupt keydump, an interrupted import run again, an
// export imported into an empty store, stdin; on each backend (with PostgreSQL, merges run in worker threads);
// and the real command line as a subprocess.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importKeyService, startImportWorkers } from '../../src/cli/import.js';
import { loadConfig, type Config } from '../../src/config.js';
import { encodeArmor } from '../../src/formats/armor.js';
import { fingerprintOf, readPackets, splitKeys, writePackets } from '../../src/openpgp/packets.js';
import { CHECKSUM_FILE, MANIFEST_FILE, runExport } from '../../src/services/exportService.js';
import { inProcessSubmitter, runImport, type ImportOptions, type ImportReport, type KeySubmitter } from '../../src/services/importService.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { ExportQueries } from '../../src/store/exportQueries.js';
import { openMigratedDatabase } from '../../src/store/migrate.js';
import { backends, createTestDatabase, type Backend } from '../helpers/server.js';

const RINGS = ['debian-keyring', 'debian-maintainers', 'debian-nonupload', 'debian-role-keys'].map((n) => `/usr/share/keyrings/${n}.gpg`);
const installed = RINGS.every((f) => existsSync(f));
// 42 keys certifying each other: small enough to import several times, with certifications whose issuer
// comes later in the input (the certification pass).
const SMALL = RINGS.slice(2);
const ROLE_KEYS = RINGS[3]!;

interface Store {
  db: DatabaseHandle;
  config: Config;
  close(): Promise<void>;
}

/** A fresh migrated database: PGlite in memory, or a new database on TEST_DATABASE_URL's server. */
async function freshStore(backend: Backend, env: Record<string, string> = {}): Promise<Store> {
  const database = await createTestDatabase(backend);
  const config = loadConfig({ DATA_DIR: 'memory://', ...(database.url ? { DATABASE_URL: database.url } : {}), ...env });
  const db = await openMigratedDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 4 });
  return {
    db,
    config,
    close: async () => {
      await db.close();
      await database.drop();
    },
  };
}

/**
 * Worker threads with PostgreSQL (as the command does by default) for the tests that ask for them (starting
 * workers under the TypeScript loader takes seconds), else the main thread (`--workers 0`, and PGlite).
 */
function submitterFor(store: Store, workers = false): Promise<KeySubmitter> {
  if (workers && store.config.DATABASE_URL) return startImportWorkers(store.config, 2, 8);
  return Promise.resolve(inProcessSubmitter(importKeyService(store.db.db, store.config), 16));
}

async function importInto(store: Store, paths: string[], options: Partial<ImportOptions> & { workers?: boolean } = {}) {
  const submitter = options.submitter ?? (await submitterFor(store, options.workers));
  const reports: ImportReport[] = [];
  try {
    const summary = await runImport(paths, { submitter, onReport: (r) => reports.push(r), ...options });
    return { summary, reports };
  } finally {
    await submitter.close();
  }
}

/** Every stored key: fingerprint → bytes (hex). */
async function storedKeys(store: Store): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  await new ExportQueries(store.db.db).forEachPage(200, async (page) => {
    for (const k of page) keys.set(k.fingerprint, Buffer.from(k.packets).toString('hex'));
  });
  return keys;
}

function ringKeys(file: string): Uint8Array[] {
  return splitKeys(readPackets(new Uint8Array(readFileSync(file)))).keys.map((packets) => writePackets(packets));
}

/** The primary fingerprints `gpg --show-keys` lists for the keyrings. */
function gpgFingerprints(files: string[]): string[] {
  const home = mkdtempSync(path.join(tmpdir(), 'keystore-gpg-'));
  try {
    const fprs: string[] = [];
    for (const file of files) {
      const out = execFileSync('gpg', ['--homedir', home, '--batch', '--with-colons', '--fixed-list-mode', '--show-keys', file], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let primary = false;
      for (const line of out.split('\n')) {
        const f = line.split(':');
        if (f[0] === 'pub') primary = true;
        else if (f[0] === 'fpr' && primary) {
          fprs.push(f[9]!);
          primary = false;
        } else if (f[0] === 'sub') primary = false;
      }
    }
    return fprs.sort();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'keystore-import-test-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!installed).each(backends)('keystore import and export on %s', (backend) => {
  // SMALL imported once (the reference), and a store for the small tests below (opening PGlite takes seconds).
  let reference: Store;
  let referenceImport: Awaited<ReturnType<typeof importInto>>;
  let referenceKeys: Map<string, string>;
  let misc: Store;

  beforeAll(async () => {
    reference = await freshStore(backend);
    misc = await freshStore(backend);
    referenceImport = await importInto(reference, SMALL);
    referenceKeys = await storedKeys(reference);
  }, 120_000);
  afterAll(async () => {
    await reference?.close();
    await misc?.close();
  });

  it('imports the four Debian keyrings: all 1,178 keys, the fingerprints gpg lists', async () => {
    // Third-party certifications are verified against stored issuers at every merge, which makes this set
    // slow to import; they are not kept here (the smaller sets below keep them).
    const store = await freshStore(backend, { CERTIFICATION_POLICY: 'none' });
    try {
      const { summary, reports } = await importInto(store, RINGS, { workers: true });
      expect(reports).toEqual([]);
      expect(summary).toMatchObject({
        files: 4,
        keys: 1178,
        inserted: 1178,
        updated: 0,
        unchanged: 0,
        rejected: 0,
        failed: 0,
        skippedRegions: 0,
        interrupted: false,
        error: null,
      });
      expect(summary.bytesRead).toBe(RINGS.reduce((n, f) => n + readFileSync(f).length, 0));
      expect([...(await storedKeys(store)).keys()].sort()).toEqual(gpgFingerprints(RINGS));
    } finally {
      await store.close();
    }
  }, 240_000);

  it('keeps certifications whose issuer comes later in the input (second merge), and a re-import changes nothing', async () => {
    expect(referenceImport.reports).toEqual([]);
    expect(referenceImport.summary).toMatchObject({ keys: 42, inserted: 42, rejected: 0, failed: 0, interrupted: false });
    // Most of these keys carry certifications by keys further down the input: kept aside and admitted as those
    // keys are stored, nothing is left for a second merge (the reversed import below ends with the same keys).
    expect(referenceImport.summary.certificationPass).toBe(0);
    expect(referenceKeys.size).toBe(42);
    const again = await importInto(reference, SMALL);
    expect(again.summary).toMatchObject({ keys: 42, inserted: 0, updated: 0, unchanged: 42, certificationPass: 0 });
    expect(await storedKeys(reference)).toEqual(referenceKeys);
  }, 120_000);

  it('stops an interrupted import with the keys in flight finished; run again, it ends with the same keys', async () => {
    // The keys in the opposite order: the result must not depend on the order either.
    const reversed = path.join(scratch, `${backend}-reversed.pgp`);
    writeFileSync(reversed, Buffer.concat(SMALL.flatMap(ringKeys).reverse()));
    const store = await freshStore(backend);
    try {
      const controller = new AbortController();
      const inner = await submitterFor(store, true);
      let done = 0;
      // Interrupt once ten keys are done (as SIGINT would), while others are in flight.
      const submitter: KeySubmitter = {
        capacity: inner.capacity,
        submit: async (bytes) => {
          const result = await inner.submit(bytes);
          if (++done === 10) controller.abort();
          return result;
        },
        close: () => inner.close(),
      };
      const first = await importInto(store, [reversed], { submitter, signal: controller.signal });
      expect(first.summary.interrupted).toBe(true);
      expect(first.summary.keys).toBeGreaterThanOrEqual(10);
      expect(first.summary.keys).toBeLessThan(42);
      expect(first.summary.inserted).toBe(first.summary.keys);
      // Every key reported is stored whole: each key is merged in its own transaction.
      expect((await storedKeys(store)).size).toBe(first.summary.inserted);

      const second = await importInto(store, [reversed], { workers: true });
      expect(second.summary).toMatchObject({ keys: 42, interrupted: false, rejected: 0 });
      expect(second.summary.inserted).toBe(42 - first.summary.inserted);
      expect(await storedKeys(store)).toEqual(referenceKeys);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('exports every key in id order with checksums; imported into an empty store, the keys are byte for byte the same', async () => {
    const dir = path.join(scratch, `${backend}-export`);
    const exported = await runExport(new ExportQueries(reference.db.db), dir, { keysPerFile: 10, pageSize: 7 });
    expect(exported.keys).toBe(42);
    expect(exported.files.map((f) => f.name)).toEqual([
      'keystore-0000.pgp',
      'keystore-0001.pgp',
      'keystore-0002.pgp',
      'keystore-0003.pgp',
      'keystore-0004.pgp',
    ]);
    expect(exported.files.map((f) => f.keys)).toEqual([10, 10, 10, 10, 2]);
    expect(readdirSync(dir).sort()).toEqual([...exported.files.map((f) => f.name), CHECKSUM_FILE, MANIFEST_FILE].sort());
    expect(execFileSync('sha256sum', ['--check', '--strict', CHECKSUM_FILE], { cwd: dir, encoding: 'utf8' })).toMatch(/keystore-0004.pgp: OK/);
    expect(JSON.parse(readFileSync(path.join(dir, MANIFEST_FILE), 'utf8'))).toMatchObject({ keys: 42, keysPerFile: 10 });
    // Files hold the stored bytes, in id order.
    const fileKeys = exported.files.flatMap((f) => ringKeys(path.join(dir, f.name)).map((b) => Buffer.from(b).toString('hex')));
    expect(new Set(fileKeys)).toEqual(new Set(referenceKeys.values()));

    await expect(runExport(new ExportQueries(reference.db.db), dir, { keysPerFile: 10 })).rejects.toThrow(/not empty/);

    const restored = await freshStore(backend);
    try {
      const { summary, reports } = await importInto(restored, [dir]);
      expect(reports).toEqual([]);
      expect(summary).toMatchObject({ files: 5, keys: 42, inserted: 42 });
      expect(summary.ignoredFiles.sort()).toEqual([path.join(dir, CHECKSUM_FILE), path.join(dir, MANIFEST_FILE)].sort());
      expect(await storedKeys(restored)).toEqual(referenceKeys);
    } finally {
      await restored.close();
    }
  }, 120_000);

  it('reports a corrupt key in the middle of a keydump and imports the others', async () => {
    const keys = ringKeys(ROLE_KEYS);
    const broken = keys[3]!.slice();
    // Corrupt the header of the packet after the primary key packet (its tag becomes 0).
    const primaryLength = readPackets(keys[3]!)[0]!.body.length;
    const at = broken[1]! < 192 ? 2 + primaryLength : 3 + primaryLength;
    broken[at] = 0xc0;
    const file = path.join(scratch, `${backend}-corrupt.pgp`);
    writeFileSync(file, Buffer.concat([...keys.slice(0, 3), broken, ...keys.slice(4)]));
    const { summary, reports } = await importInto(misc, [file]);
    expect(summary).toMatchObject({ keys: 5, inserted: 5, skippedRegions: 1, skippedBytes: broken.length, interrupted: false, error: null });
    const corrupt = fingerprintOf(readPackets(keys[3]!)[0]!.body);
    expect(reports).toEqual([
      expect.objectContaining({ kind: 'skipped', source: file, fingerprint: corrupt, bytes: broken.length, reason: 'packet of tag 0 in key data' }),
    ]);
    expect(summary.reasons).toEqual({ 'packet of tag 0 in key data': 1 });
    const stored = await storedKeys(misc);
    expect(stored.has(corrupt)).toBe(false);
    expect([...stored.keys()].sort()).toEqual(
      keys
        .filter((_, i) => i !== 3)
        .map((k) => fingerprintOf(readPackets(k)[0]!.body))
        .sort(),
    );
  }, 120_000);

  it('reads armored keys from stdin ("-") and key files from nested folders', async () => {
    const keys = ringKeys(RINGS[2]!).slice(0, 6);
    const armored = encodeArmor(Buffer.concat(keys.slice(0, 4)));
    const stdin = Readable.from([armored.slice(0, 1000), armored.slice(1000)].map((s) => Buffer.from(s)));
    const folder = path.join(scratch, `${backend}-folder`);
    mkdirSync(path.join(folder, 'nested'), { recursive: true });
    writeFileSync(path.join(folder, 'nested', 'five.asc'), encodeArmor(keys[4]!));
    writeFileSync(path.join(folder, 'six.key'), keys[5]!);
    writeFileSync(path.join(folder, 'README'), 'not a key');
    const { summary, reports } = await importInto(misc, ['-', folder], { stdin });
    expect(reports).toEqual([]);
    expect(summary).toMatchObject({ files: 3, keys: 6, inserted: 6, ignoredFiles: [path.join(folder, 'README')] });
    const stored = await storedKeys(misc);
    for (const key of keys) expect(stored.has(fingerprintOf(readPackets(key)[0]!.body))).toBe(true);
  }, 120_000);
});

/** The built command when dist/ is newer than every source file (npm run build), else the sources through tsx. */
function commandLine(): string[] {
  const built = 'dist/src/main.js';
  if (!existsSync(built)) return ['--import', 'tsx', 'src/main.ts'];
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((t, e) => {
      const file = path.join(dir, e.name);
      return Math.max(t, e.isDirectory() ? newest(file) : statSync(file).mtimeMs);
    }, 0);
  return statSync(built).mtimeMs > Math.max(newest('src'), newest('migrations')) ? [built] : ['--import', 'tsx', 'src/main.ts'];
}

describe.skipIf(!installed)('the keystore command line', () => {
  const cli = commandLine();
  const run = (args: string[], env: Record<string, string>, stdin?: (child: ReturnType<typeof spawn>) => void) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [...cli, ...args], {
        env: { PATH: process.env['PATH']!, LOG_LEVEL: 'warn', ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
      if (stdin) stdin(child);
      else child.stdin.end();
    });

  it('imports from stdin, stops on SIGTERM with a summary and exit code 143, finishes when run again, exports', async () => {
    const env = { DATA_DIR: path.join(scratch, 'cli-data') };
    const keys = ringKeys(RINGS[2]!);
    // Half the keys, then SIGTERM while the import waits for more input.
    const interrupted = await run(['import', '-'], env, (child) => {
      child.stdin!.write(Buffer.concat(keys.slice(0, 18)));
      // Once the import has begun (its first line), give it time to take the keys written so far.
      child.stderr!.once('data', () => setTimeout(() => child.kill('SIGTERM'), 3000));
    });
    expect(interrupted.code, interrupted.stderr).toBe(143);
    expect(interrupted.stdout).toMatch(/^import interrupted: (\d+) keys/);
    expect(interrupted.stdout).toMatch(/peak memory \(RSS\): [\d.]+ MiB/);
    const firstKeys = Number(/^import interrupted: (\d+) keys/.exec(interrupted.stdout)![1]);
    expect(firstKeys).toBeLessThanOrEqual(18);

    const finished = await run(['import', '--json', RINGS[2]!], env);
    expect(finished.code, finished.stderr).toBe(0);
    const summary = JSON.parse(finished.stdout) as { keys: number; inserted: number; unchanged: number; updated: number; maxRssBytes: number };
    expect(summary.keys).toBe(36);
    expect(summary.inserted).toBe(36 - firstKeys);
    expect(summary.maxRssBytes).toBeGreaterThan(0);

    const out = path.join(scratch, 'cli-export');
    const exported = await run(['export', '--keys-per-file', '20', out], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^exported 36 keys .* in 2 file\(s\)/);
    execFileSync('sha256sum', ['--check', '--strict', CHECKSUM_FILE], { cwd: out });
    const exportedFprs = readdirSync(out)
      .filter((f) => f.endsWith('.pgp'))
      .flatMap((f) => ringKeys(path.join(out, f)).map((k) => fingerprintOf(readPackets(k)[0]!.body)));
    expect(exportedFprs.sort()).toEqual(keys.map((k) => fingerprintOf(readPackets(k)[0]!.body)).sort());
  }, 120_000);
});
