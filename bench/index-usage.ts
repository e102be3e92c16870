// Which indexes the store's queries use: runs every kind of query src/store makes (pushes new, unchanged and
// changed keys one by one and in batches, certifications, every search kind, vindex, stats, the audit log with
// each filter, tokens, export) with sequential scans disabled, so the planner takes any index that can serve a
// query, then lists each index with its scan count. An index still at 0 serves no query of the store.
// Usage: [DATABASE_URL=postgres://...] npx tsx bench/index-usage.ts   (without it: PGlite in a temporary folder)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import * as openpgp from 'openpgp';
import { DEFAULT_LIMITS } from '../src/openpgp/index.js';
import { AccessService } from '../src/services/accessService.js';
import { runExport } from '../src/services/exportService.js';
import { KeyService } from '../src/services/keyService.js';
import { LookupService } from '../src/services/lookupService.js';
import { parseSearch } from '../src/services/search.js';
import { AuditRepository } from '../src/store/auditRepository.js';
import { openDatabase } from '../src/store/database.js';
import { ExportQueries } from '../src/store/exportQueries.js';
import { KeyQueries } from '../src/store/keyQueries.js';
import { KeyRepository } from '../src/store/keyRepository.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { StatsRepository } from '../src/store/statsRepository.js';
import { TokenRepository } from '../src/store/tokenRepository.js';

const given = process.env['DATABASE_URL'];
const scratch = mkdtempSync(join(tmpdir(), 'keystore-index-usage-'));
let url: string | undefined;
let admin: Awaited<ReturnType<typeof openDatabase>> | undefined;
const dbName = `keystore_index_usage_${process.pid}`;
if (given) {
  admin = await openDatabase({ url: given, dataDir: scratch, poolSize: 1 });
  await sql.raw(`create database ${dbName}`).execute(admin.db);
  const u = new URL(given);
  u.pathname = `/${dbName}`;
  // Every connection of the pool plans without sequential scans.
  u.searchParams.set('options', '-c enable_seqscan=off');
  url = u.toString();
}
const handle = await openDatabase({ url, dataDir: join(scratch, 'db'), poolSize: 1 });
const { db } = handle;
try {
  await migrateToLatest(db);
  if (!url) await sql`set enable_seqscan = off`.execute(db);
  const keys = new KeyService(new KeyRepository(db, handle.writerId), new AuditRepository(db), { limits: DEFAULT_LIMITS });
  const lookups = new LookupService(new KeyQueries(db), new StatsRepository(db), { maxResults: 100, version: 'index-usage' });
  const tokens = new AccessService(new TokenRepository(db));

  const make = (name: string) =>
    openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ name, email: `${name.toLowerCase()}@example.org` }],
      format: 'object',
    });
  const alice = await make('Alice');
  const bob = await make('Bob');
  const carol = await make('Carol');
  const token = await tokens.create({ email: 'alice@example.org' });
  const context = { source: 'http' as const, remoteAddress: '127.0.0.1' };
  // New keys, one at a time; the same again (unchanged); a change (a certification by a stored key).
  await keys.submit(alice.publicKey.armor(), context);
  await keys.submit(bob.publicKey.armor(), { ...context, token: authenticated(await tokens.authenticate(token.secret)) });
  await keys.submit(alice.publicKey.armor(), context);
  const certified = await alice.publicKey.signAllUsers([bob.privateKey]);
  await keys.submit(certified.armor(), context);
  // A batch, as keystore import sends them: one new key and one changed key.
  const { readKeyData } = await import('../src/openpgp/index.js');
  const batch = [...readKeyData(carol.publicKey.armor()).keys, ...readKeyData((await bob.publicKey.signAllUsers([alice.privateKey])).armor()).keys];
  await keys.submitKeys(batch, { source: 'import' });

  const fpr = alice.publicKey.getFingerprint().toUpperCase();
  const subkeyFpr = alice.publicKey.subkeys[0]!.getFingerprint().toUpperCase();
  for (const search of [
    `0x${fpr}`,
    `0x${subkeyFpr}`,
    `0x${fpr.slice(-16)}`,
    `0x${fpr.slice(-8)}`,
    'alice@example.org',
    'alice',
    'Alice <alice@example.org>',
  ]) {
    const exact = search.startsWith('Alice <');
    const query = parseSearch(search, exact);
    await lookups.get(query);
    await lookups.index(query, {}, false);
    await lookups.index(query, {}, true);
    await lookups.index(query, { pageSize: 1 }, false);
  }
  await lookups.stats();
  const audit = new AuditRepository(db);
  await audit.list({});
  await audit.list({ fingerprint: fpr });
  await audit.list({ since: new Date(Date.now() - 3_600_000) });
  await audit.list({ fingerprint: fpr, since: new Date(Date.now() - 3_600_000), limit: 1 });
  await tokens.list();
  await tokens.revoke(token.id);
  await runExport(new ExportQueries(db), join(scratch, 'export'), { keysPerFile: 1000 });

  // Statistics reach the views when a backend reports them (at most once a second): wait, then force it.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await sql`select pg_stat_force_next_flush()`.execute(db).catch(() => undefined);
  await sql`select 1`.execute(db);
  const { rows } = await sql<{ table: string; index: string; scans: string }>`
    select relname as table, indexrelname as index, idx_scan as scans from pg_stat_user_indexes order by relname, indexrelname`.execute(db);
  const { rows: extensions } = await sql<{ extname: string }>`select extname from pg_extension where extname <> 'plpgsql'`.execute(db);
  console.log(`${url ? 'PostgreSQL' : 'PGlite'}: index scans with enable_seqscan=off`);
  for (const r of rows) console.log(`${String(r.scans).padStart(6)}  ${r.table}.${r.index}${Number(r.scans) === 0 ? '   <- unused' : ''}`);
  console.log(`extensions: ${extensions.map((e) => e.extname).join(', ') || 'none'}`);
} finally {
  await handle.close();
  if (admin) {
    await sql.raw(`drop database if exists ${dbName}`).execute(admin.db);
    await admin.close();
  }
  rmSync(scratch, { recursive: true, force: true });
}

function authenticated(verdict: Awaited<ReturnType<AccessService['authenticate']>>) {
  if (!('token' in verdict)) throw new Error(verdict.problem);
  return verdict.token;
}
