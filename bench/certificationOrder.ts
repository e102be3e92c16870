// Measures what arrival order does to third-party certifications (docs/certifications.md): the Debian keyrings
// pushed over HTTP (POST /pks/add, one key per request) in a random order, N requests at once, against the same
// keys imported in file order (`keystore import`'s code: runImport in the main thread, batched), each into a
// fresh store; prints the certifications each store kept that were made by keys of the set.
//
//   npx tsx bench/certificationOrder.ts [--concurrency 4] [--seed 1]
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/certificationOrder.ts   # new databases on that server
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { importKeyService } from '../src/cli/import.js';
import { loadConfig } from '../src/config.js';
import { parseCert } from '../src/openpgp/certificate.js';
import { NO_LIMITS } from '../src/openpgp/limits.js';
import { isSelfIssued } from '../src/openpgp/merge.js';
import { fingerprintOf, keyIdOf, readPackets, splitKeys, writePackets, type Packet } from '../src/openpgp/packets.js';
import { inProcessSubmitter, runImport } from '../src/services/importService.js';
import { startServer } from '../src/server.js';
import { toBytes } from '../src/store/keyQueries.js';

const RINGS = ['debian-keyring', 'debian-maintainers', 'debian-nonupload', 'debian-role-keys'].map((n) => `/usr/share/keyrings/${n}.gpg`);
const { values } = parseArgs({ options: { concurrency: { type: 'string', default: '4' }, seed: { type: 'string', default: '1' } } });
const concurrency = Number(values.concurrency);
const log = (line: string) => process.stderr.write(`${line}\n`);

if (!RINGS.every((f) => existsSync(f))) {
  log('needs the debian-keyring package (/usr/share/keyrings/debian-*.gpg)');
  process.exit(2);
}
const keys = RINGS.flatMap((f) => splitKeys(readPackets(new Uint8Array(readFileSync(f)))).keys);
const setKeyIds = new Set(keys.map((k) => keyIdOf(fingerprintOfFirst(k))));

/** A fresh database: a new one on DATABASE_URL's server, or PGlite in memory. */
async function freshDatabase(): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  const admin = process.env['DATABASE_URL'];
  if (!admin) return { url: undefined, drop: async () => {} };
  const name = `keystore_certorder_${randomBytes(6).toString('hex')}`;
  const run = async (text: string) => {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`drop database if exists ${name} with (force)`) };
}

async function startStore() {
  const database = await freshDatabase();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: 'memory://',
    RATE_LIMIT: 'off',
    LOG_LEVEL: 'silent',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
  });
  const server = await startServer(config, pino({ level: 'silent' }), 'bench');
  return {
    server,
    config,
    close: async () => {
      await server.close();
      await database.drop();
    },
  };
}

/** Third-party certifications on the stored keys' user IDs whose issuer is a primary key of the set. */
async function certificationsBySet(store: Awaited<ReturnType<typeof startStore>>): Promise<number> {
  const rows = await store.server.database.db.selectFrom('keys').select('packets').execute();
  let n = 0;
  for (const row of rows) {
    const { cert } = await parseCert(readPackets(toBytes(row.packets)), NO_LIMITS);
    for (const user of cert.users) {
      for (const sig of user.sigs) {
        const issuer = sig.issuerKeyId ?? (sig.issuerFingerprint ? keyIdOf(sig.issuerFingerprint) : null);
        if (!isSelfIssued(sig, cert.primary) && issuer !== null && setKeyIds.has(issuer)) n++;
      }
    }
  }
  return n;
}

function fingerprintOfFirst(packets: Packet[]): string {
  return fingerprintOf(packets[0]!.body);
}

/** Deterministic shuffle (mulberry32), so a run can be repeated with its seed. */
function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const backend = process.env['DATABASE_URL'] ? 'PostgreSQL' : 'PGlite';
log(`${keys.length} keys from ${RINGS.length} keyrings; ${backend}`);

// Imported in file order.
const imported = await startStore();
let importedCount: number;
try {
  const started = Date.now();
  const submitter = inProcessSubmitter(importKeyService(imported.server.database.db, imported.config), 256);
  const summary = await runImport(RINGS, { submitter });
  log(
    `import: ${summary.keys} keys in ${((Date.now() - started) / 1000).toFixed(1)} s, inserted ${summary.inserted}, rejected ${summary.rejected}, certification pass ${summary.certificationPass}`,
  );
  importedCount = await certificationsBySet(imported);
} finally {
  await imported.close();
}

// Pushed in a random order, `concurrency` requests at once.
const pushed = await startStore();
let pushedCount: number;
try {
  const started = Date.now();
  const order = shuffled(keys, Number(values.seed));
  let next = 0;
  const statuses = new Map<number, number>();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < order.length) {
        const key = order[next++]!;
        const res = await fetch(`${pushed.server.url}/pks/add`, {
          method: 'POST',
          headers: { 'content-type': 'application/pgp-keys' },
          body: new Uint8Array(writePackets(key)),
        });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    }),
  );
  log(
    `push: ${order.length} keys in ${((Date.now() - started) / 1000).toFixed(1)} s, ${concurrency} at once (seed ${values.seed}), statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  pushedCount = await certificationsBySet(pushed);
  const {
    rows: [aside],
  } = await sql<{ count: string }>`select count from pending_certification_count`.execute(pushed.server.database.db);
  log(`certifications still aside after the push: ${aside?.count ?? '?'}`);
} finally {
  await pushed.close();
}

console.log(
  JSON.stringify({
    backend,
    keys: keys.length,
    concurrency,
    seed: Number(values.seed),
    certificationsBySet: { imported: importedCount, pushed: pushedCount },
  }),
);
