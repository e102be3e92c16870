// Lookups with one and with two keystore instances over one PostgreSQL (two `keystore serve` processes on two
// ports, wrk's threads spread over both: bench/wrk.lua), and with reads from a streaming standby
// (DATABASE_READ_URL; the standby made with pg_basebackup from the primary of DATABASE_URL, in a temporary
// folder on loopback, removed at the end). PostgreSQL only. See bench/README.md, "Instances and standby".
import pg from 'pg';
import { createPrivateStandby, postgresBinaries, type PrivatePostgres } from '../test/helpers/privatePostgres.js';
import type { MeasuredServer } from './load.js';
import { processTree } from './procstat.js';
import type { HkpRequest, Scenario, ScenarioId } from './queries.js';
import type { Measured } from './report.js';
import { startKeystore, type RunningKeystore } from './server.js';
import type { Store } from './store.js';

/** The lookups measured this way, where selected. */
export const INSTANCE_SCENARIOS: ScenarioId[] = ['get-fpr', 'get-fpr-close', 'index-email'];

export type InstanceSetup = 'one instance' | 'two instances' | 'standby reads';

export interface InstanceRun {
  scenario: ScenarioId;
  title: string;
  concurrency: number;
  setup: InstanceSetup;
  measured: Measured;
}

export interface InstanceSection {
  runs: InstanceRun[];
  /** Why a part was left out (PGlite, pg_hba, …) and how the standby was made. */
  notes: string[];
}

// pg_basebackup of the whole cluster, and the standby's start, each at most this long.
const STANDBY_STEP_MS = 300_000;

export interface InstanceContext {
  store: Store;
  /** The PostgreSQL server of DATABASE_URL (its admin connection). */
  adminUrl: string;
  /** The keystore already serving (the "one instance"). */
  keystore: RunningKeystore;
  /** Environment of `keystore serve` (DATABASE_URL, WORKERS). */
  serveEnv: Record<string, string>;
  scenarios: Scenario[];
  concurrencies: number[];
  lists: Map<ScenarioId, HkpRequest[]>;
  measure: (server: MeasuredServer, scenario: Scenario, concurrency: number, requests: HkpRequest[]) => Promise<Measured>;
  /** The warm-up the first instance had, for a new one. */
  warmUp: (server: MeasuredServer) => Promise<void>;
  /** Cleanups that run whatever happens (error, Ctrl-C). */
  register: (cleanup: () => Promise<void>) => void;
  log: (line: string) => void;
}

/** Concurrencies of the instance rows: wrk's threads are spread over two instances, so at least 2 connections. */
export function instanceConcurrencies(scenario: Scenario, concurrencies: number[]): number[] {
  if (scenario.connectionClose) return [4];
  const levels = concurrencies.filter((c) => c >= 2 && c % 2 === 0);
  return levels.length > 0 ? levels : [4];
}

export async function measureInstances(ctx: InstanceContext): Promise<InstanceSection> {
  const notes: string[] = [];
  const selected = ctx.scenarios.filter((s) => INSTANCE_SCENARIOS.includes(s.id));
  if (selected.length === 0) return { runs: [], notes: ['no lookup scenario of this section selected'] };
  const one = serverOf(ctx.store, [ctx.keystore]);
  const second = await startKeystore(ctx.serveEnv);
  ctx.register(() => second.stop());
  const two: MeasuredServer = { ...serverOf(ctx.store, [ctx.keystore, second]), alsoUrls: [second.url] };
  ctx.log(`  second keystore instance at ${second.url} (pid ${second.pid})`);
  await ctx.warmUp(serverOf(ctx.store, [second]));

  const standby = await startStandby(ctx, notes);
  let reader: MeasuredServer | undefined;
  let third: RunningKeystore | undefined;
  if (standby) {
    const readUrl = new URL(standby.url);
    readUrl.pathname = new URL(ctx.store.env['DATABASE_URL']!).pathname;
    third = await startKeystore({ ...ctx.serveEnv, DATABASE_READ_URL: readUrl.toString() });
    const started = third;
    ctx.register(() => started.stop());
    const database = readUrl.pathname.slice(1);
    const standbyBackends = () => backendPids(standby.url, database);
    reader = { ...serverOf(ctx.store, [started]), dbPids: async () => [...(await ctx.store.backendPids()), ...(await standbyBackends())] };
    ctx.log(`  keystore reading from the standby at ${started.url} (pid ${started.pid}; DATABASE_READ_URL on port ${standby.port})`);
    await ctx.warmUp(reader);
  }

  const runs: InstanceRun[] = [];
  for (const scenario of selected) {
    const requests = ctx.lists.get(scenario.id)!;
    for (const concurrency of instanceConcurrencies(scenario, ctx.concurrencies)) {
      const setups: [InstanceSetup, MeasuredServer][] = [
        ['one instance', one],
        ['two instances', two],
        ...(reader ? [['standby reads', reader] as [InstanceSetup, MeasuredServer]] : []),
      ];
      const line: string[] = [];
      for (const [setup, server] of setups) {
        const measured = await ctx.measure(server, scenario, concurrency, requests);
        runs.push({ scenario: scenario.id, title: scenario.title, concurrency, setup, measured });
        line.push(`${setup} ${Math.round(measured.requestsPerSecond).toLocaleString('en-US')} req/s (p99 ${measured.p99Ms.toFixed(2)} ms)`);
      }
      ctx.log(`  ${scenario.title}, ${concurrency} conn.: ${line.join(' | ')}`);
    }
  }
  // The extra processes go now, before the pushes that follow.
  await second.stop();
  await third?.stop();
  await standby?.destroy();
  return { runs, notes };
}

/** keystore instances and the PostgreSQL backends of the benchmark database. */
function serverOf(store: Store, instances: RunningKeystore[]): MeasuredServer {
  return {
    url: instances[0]!.url,
    pids: async () => (await Promise.all(instances.map((k) => processTree(k.pid)))).flat(),
    ...(store.kind === 'postgresql' ? { dbPids: () => store.backendPids() } : {}),
  };
}

/** A hot standby of the primary of DATABASE_URL, caught up with it; null (with a note) when it cannot be made. */
async function startStandby(ctx: InstanceContext, notes: string[]): Promise<PrivatePostgres | null> {
  const bin = postgresBinaries();
  const primary = new URL(ctx.adminUrl);
  const skip = (why: string) => {
    notes.push(`no standby rows: ${why}`);
    ctx.log(`  no standby: ${why}`);
    return null;
  };
  if (!bin) return skip('no PostgreSQL binaries under /usr/lib/postgresql (pg_basebackup, pg_ctl)');
  if (!['127.0.0.1', 'localhost'].includes(primary.hostname) || (primary.username && primary.username !== 'postgres')) {
    return skip(
      `the standby is made as user postgres on 127.0.0.1 (the primary of DATABASE_URL is ${primary.username || '(default user)'}@${primary.hostname})`,
    );
  }
  const walLevel = await query<{ wal_level: string }>(ctx.adminUrl, 'show wal_level').then(
    (r) => r[0]?.wal_level,
    () => undefined,
  );
  if (walLevel !== 'replica' && walLevel !== 'logical') return skip(`the primary's wal_level is ${walLevel ?? 'unknown'}, not replica`);
  const started = Date.now();
  let standby: PrivatePostgres;
  try {
    standby = await createPrivateStandby(bin, { port: Number(primary.port || 5432) }, 55540, STANDBY_STEP_MS);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const hba = /no pg_hba\.conf entry for replication/.exec(message);
    return skip(
      hba
        ? 'the primary refuses replication connections from 127.0.0.1 (pg_hba.conf needs a line such as "host replication postgres 127.0.0.1/32 trust", then a reload)'
        : `pg_basebackup or the standby's start failed: ${message.split('\n').filter(Boolean).slice(-2).join(' ')}`,
    );
  }
  ctx.register(() => standby.destroy());
  // Replayed up to where the primary was once the backup was taken (the import is in it): bounded wait.
  const target = (await query<{ lsn: string }>(ctx.adminUrl, 'select pg_current_wal_lsn()::text as lsn'))[0]!.lsn;
  const deadline = Date.now() + 60_000;
  while (
    !(await query<{ ok: boolean }>(standby.url, `select pg_last_wal_replay_lsn() >= '${target}'::pg_lsn as ok`).then(
      (r) => r[0]?.ok === true,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) {
      await standby.destroy();
      return skip('the standby did not catch up with the primary within 60 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (Date.now() - started) / 1000;
  notes.push(
    `standby: pg_basebackup -R -X stream of the primary of DATABASE_URL into a temporary folder, hot standby on 127.0.0.1:${standby.port}, made and caught up in ${seconds.toFixed(1)} s; removed after these rows`,
  );
  return standby;
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Backends serving the benchmark database on the standby (its share of the reads' database CPU). */
async function backendPids(url: string, database: string): Promise<number[]> {
  return (await query<{ pid: number }>(url, `select pid from pg_stat_activity where datname = '${database.replace(/'/g, "''")}'`)).map((r) => r.pid);
}
