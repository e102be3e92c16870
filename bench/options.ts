// The command line of npm run bench.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { wrkInstalled, type Tool } from './load.js';
import { SCENARIOS, type Scenario } from './queries.js';

export const HELP = `npm run bench -- [options]

  --keys N            synthetic keys besides the Debian keyrings (default 100000; 0 = Debian keys only)
  --scales A,B,...    run everything at several numbers of synthetic keys (e.g. 0,10000,100000) instead of --keys
  --duration S        seconds per measured run (default 10)
  --concurrency LIST  connections per run (default 1,4,16; "Connection: close" runs at 4 only)
  --scenarios LIST    some of: ${SCENARIOS.map((s) => s.id).join(', ')} (default all)
  --no-sks            do not build and start SKS side by side (default: when Debian's sks is installed and no --target)
  --target URL        measure another HKP server with the same lists, run for run, instead of the bench's SKS
  --target-pid PIDS   sample CPU and memory of the target's processes (comma-separated)
  --tool wrk|autocannon  load generator (default wrk when installed)
  --no-debian         leave out the Debian keyrings
  --no-instances      no lookups with two keystore instances and from a streaming standby (PostgreSQL only)
  --no-uncached       no lookups and searches on a second instance with the lookup cache off
  --workers N|auto    keystore's WORKERS (processes serving HTTP; default: the server's own, auto on PostgreSQL)
  --queries N         requests in each read list (default 2000)
  --push-queries N    stored keys in the list of re-pushes (default 500)
  --fresh N           new keys for each push-of-a-new-key run, each pushed once (default 1000 per second of --duration)
  --warmup S          seconds of warm-up per read scenario before measuring (default 1; 0 = none)
  --keep              keep the database (PostgreSQL) or PGlite folder and print where it is
  --no-build          use dist/ as it is (default: npm run build first)
  --write-keydump DIR write the dataset as keydump files (*.pgp) for another keyserver, then stop
  --out DIR           where results go (default bench/results)

The store is a new database on the PostgreSQL server of DATABASE_URL (a connection that may create
databases) when it is set, else PGlite in a temporary folder.`;

export interface BenchOptions {
  help: boolean;
  /** Numbers of synthetic keys, one whole run each. */
  scales: number[];
  debian: boolean;
  durationSeconds: number;
  concurrencies: number[];
  scenarios: Scenario[];
  target: string | null;
  targetPids: number[];
  /** Build and start SKS from the dataset and measure it as the target (no --target, not --no-sks). */
  sks: boolean;
  /** Lookups with one and two instances and from a standby (PostgreSQL). */
  instances: boolean;
  /** The lookups and searches again with the lookup cache off. */
  uncached: boolean;
  tool: Tool;
  queries: number;
  pushQueries: number;
  freshPerRun: number;
  warmupSeconds: number;
  keep: boolean;
  build: boolean;
  writeKeydump: string | null;
  out: string;
  /** keystore's WORKERS setting; null = the server's default. */
  workers: string | null;
  /** PostgreSQL server to create the benchmark database on (DATABASE_URL); null = PGlite. */
  adminUrl: string | null;
}

export class UsageError extends Error {}

function count(value: string, name: string, min = 0): number {
  const n = Number(value.replace(/_/g, ''));
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`${name} must be an integer of at least ${min}, not "${value}"`);
  return n;
}

const list = (value: string, name: string, min = 0) => value.split(',').map((v) => count(v.trim(), name, min));

export function parseOptions(args: string[], env: Record<string, string | undefined>): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        keys: { type: 'string', default: '100000' },
        scales: { type: 'string' },
        duration: { type: 'string', default: '10' },
        concurrency: { type: 'string', default: '1,4,16' },
        scenarios: { type: 'string' },
        target: { type: 'string' },
        'target-pid': { type: 'string' },
        'no-sks': { type: 'boolean', default: false },
        'no-instances': { type: 'boolean', default: false },
        'no-uncached': { type: 'boolean', default: false },
        tool: { type: 'string' },
        'no-debian': { type: 'boolean', default: false },
        workers: { type: 'string' },
        queries: { type: 'string', default: '2000' },
        'push-queries': { type: 'string', default: '500' },
        fresh: { type: 'string' },
        warmup: { type: 'string', default: '1' },
        keep: { type: 'boolean', default: false },
        'no-build': { type: 'boolean', default: false },
        'write-keydump': { type: 'string' },
        out: { type: 'string', default: fileURLToPath(new URL('./results/', import.meta.url)) },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const scales = values.scales ? list(values.scales, '--scales') : [count(values.keys, '--keys')];
  const durationSeconds = count(values.duration, '--duration', 1);
  const ids = values.scenarios ? values.scenarios.split(',').map((s) => s.trim()) : SCENARIOS.map((s) => s.id);
  for (const id of ids)
    if (!SCENARIOS.some((s) => s.id === id)) throw new UsageError(`unknown scenario "${id}" (known: ${SCENARIOS.map((s) => s.id).join(', ')})`);
  if (values.tool !== undefined && values.tool !== 'wrk' && values.tool !== 'autocannon') throw new UsageError('--tool must be wrk or autocannon');
  if (values.target && scales.length > 1) throw new UsageError('--target measures one dataset: give --keys, not --scales');
  if (values.target && !/^https?:\/\//.test(values.target)) throw new UsageError('--target must be an http:// URL');
  return {
    help: values.help,
    scales,
    debian: !values['no-debian'],
    durationSeconds,
    concurrencies: list(values.concurrency, '--concurrency', 1),
    scenarios: SCENARIOS.filter((s) => ids.includes(s.id)),
    target: values.target?.replace(/\/+$/, '') ?? null,
    targetPids: values['target-pid'] ? list(values['target-pid'], '--target-pid', 1) : [],
    sks: !values['no-sks'] && !values.target,
    instances: !values['no-instances'],
    uncached: !values['no-uncached'],
    tool: (values.tool as Tool | undefined) ?? (wrkInstalled() ? 'wrk' : 'autocannon'),
    queries: count(values.queries, '--queries', 1),
    pushQueries: count(values['push-queries'], '--push-queries', 1),
    freshPerRun: values.fresh ? count(values.fresh, '--fresh', 1) : 1000 * durationSeconds,
    warmupSeconds: count(values.warmup, '--warmup'),
    keep: values.keep,
    build: !values['no-build'],
    writeKeydump: values['write-keydump'] ?? null,
    out: values.out,
    workers: values.workers ?? null,
    adminUrl: env['DATABASE_URL'] || null,
  };
}
