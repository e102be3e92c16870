// Prometheus metrics of one server instance, in a registry of its own (never prom-client's global one).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RequestTally } from './requestTally.js';

/** A database pool's connections at scrape time (the shape of store/database.ts PoolStats). */
export interface PoolUse {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/** The lookup cache's use at scrape time (the shape of http/hkp/lookupCache.ts LookupCache.use()). */
export interface LookupCacheUse {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

export type KeyOutcomeName = 'inserted' | 'updated' | 'unchanged' | 'rejected';

/** Standbys' state and where reads went (the shape of store/database.ts readReplicas). */
export interface ReadReplicaUse {
  standbys: { name: string; up: boolean }[];
  served: { primary: number; standby: number };
}

export interface RequestLabels {
  /** A fixed name per route (see http/requestMetrics.ts), never the raw URL. */
  route: string;
  method: string;
  status: number;
}

/** Cluster mode (src/cluster.ts): /metrics answers the sum over every worker, not this worker's registry alone. */
export interface ClusterMetrics {
  /** Called once with this worker's registry, which the primary then collects at each scrape. */
  share(registry: Registry): void;
  /** Every worker's metrics summed, in Prometheus text format (the primary collects them). */
  render(): Promise<string>;
}

export interface MetricsOptions {
  version: string;
  /** Read at each scrape; absent when there is no pool (embedded database): no pool metrics then. */
  poolUse?: (() => PoolUse) | undefined;
  /** With DATABASE_READ_URL: standbys up, and reads served by the primary and by standbys, at scrape time. */
  readReplicas?: (() => ReadReplicaUse) | undefined;
  /** Set in a cluster worker: render() answers for the whole cluster. */
  cluster?: ClusterMetrics | undefined;
  /** Read at each scrape: the lookup cache's hits, misses and size. */
  lookupCacheUse?: (() => LookupCacheUse) | undefined;
}

/** One label set of a prom-client histogram, as its observe() keeps it. */
interface HistogramRow {
  labels: { route: string; method: string };
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

const KEY_OUTCOMES: KeyOutcomeName[] = ['inserted', 'updated', 'unchanged', 'rejected'];
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics {
  readonly registry = new Registry();
  // Counted here per request; the two metrics below copy it at each scrape.
  private readonly tally = new RequestTally(DURATION_BUCKETS);
  private readonly keys: Counter<'outcome'>;
  private readonly rejections: Counter<'reason'>;
  private readonly cluster: ClusterMetrics | undefined;

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // `first`, not the sum, over the workers of a cluster: still 1.
    new Gauge({
      name: 'keystore_build_info',
      help: 'Always 1; the version label says which keystore runs',
      labelNames: ['version'],
      registers,
      aggregator: 'first',
    }).set({ version: options.version }, 1);
    this.registerRequestMetrics();
    this.keys = new Counter({
      name: 'keystore_keys_total',
      help: 'Keys submitted to /pks/add, by outcome (inserted, updated, unchanged, rejected)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of KEY_OUTCOMES) this.keys.inc({ outcome }, 0);
    this.rejections = new Counter({
      name: 'keystore_keys_rejected_total',
      help: 'Keys (or unreadable parts of an upload) refused, by reason code',
      labelNames: ['reason'],
      registers,
    });
    if (options.poolUse) this.registerPoolGauges(options.poolUse);
    if (options.lookupCacheUse) this.registerLookupCacheMetrics(options.lookupCacheUse);
    if (options.readReplicas) this.registerReadReplicaMetrics(options.readReplicas);
    this.cluster = options.cluster;
    this.cluster?.share(this.registry);
  }

  /** A gauge set from `read` at each scrape. */
  private scrapedGauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  private registerRequestMetrics(): void {
    const { tally } = this;
    new Counter({
      name: 'keystore_http_requests_total',
      help: 'HTTP requests answered, by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { route, method, statuses } of tally.entries()) {
          for (const [status, count] of statuses) this.inc({ route, method, status }, count);
        }
      },
    });
    new Histogram({
      name: 'keystore_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route and method',
      labelNames: ['route', 'method'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
      collect() {
        // prom-client has no call to set a histogram's counts: this fills its table of label sets (the one observe()
        // fills, pinned prom-client version) from the tally; its export then adds up the buckets as usual.
        const table: Record<string, HistogramRow> = {};
        for (const { route, method, buckets, sum, count } of tally.entries()) {
          const bucketValues: Record<number, number> = {};
          DURATION_BUCKETS.forEach((bound, i) => (bucketValues[bound] = buckets[i]!));
          table[`${route}\n${method}`] = { labels: { route, method }, bucketValues, sum, count };
        }
        (this as unknown as { hashMap: Record<string, HistogramRow> }).hashMap = table;
      },
    });
  }

  private registerPoolGauges(poolUse: () => PoolUse): void {
    this.scrapedGauge('keystore_db_pool_connections', 'Open PostgreSQL connections, idle or in use', () => poolUse().total);
    this.scrapedGauge('keystore_db_pool_idle_connections', 'Open PostgreSQL connections not in use', () => poolUse().idle);
    this.scrapedGauge('keystore_db_pool_waiting_queries', 'Queries waiting for a PostgreSQL connection', () => poolUse().waiting);
    this.scrapedGauge('keystore_db_pool_max_connections', 'Most PostgreSQL connections the pool opens (DB_POOL_SIZE)', () => poolUse().max);
  }

  private registerLookupCacheMetrics(use: () => LookupCacheUse): void {
    // The cache counts for itself; each scrape copies its totals (counters only grow, as the cache's do).
    const counter = (name: string, help: string, read: (u: LookupCacheUse) => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read(use()));
        },
      });
    counter('keystore_lookup_cache_hits_total', 'Lookups answered from the lookup cache (by the app or before it)', (u) => u.hits);
    counter('keystore_lookup_cache_misses_total', 'Cacheable lookups the lookup cache did not hold (answered from the database)', (u) => u.misses);
    this.scrapedGauge('keystore_lookup_cache_entries', 'Answers held in the lookup cache', () => use().entries);
    this.scrapedGauge('keystore_lookup_cache_bytes', 'Bytes the lookup cache counts against LOOKUP_CACHE_BYTES', () => use().bytes);
  }

  private registerReadReplicaMetrics(use: () => ReadReplicaUse): void {
    new Counter({
      name: 'keystore_db_reads_total',
      help: 'Lookup queries run, by database (primary or standby)',
      labelNames: ['database'],
      registers: [this.registry],
      collect() {
        // The router counts; the counter shows its totals.
        const { served } = use();
        this.reset();
        this.inc({ database: 'primary' }, served.primary);
        this.inc({ database: 'standby' }, served.standby);
      },
    });
    new Gauge({
      name: 'keystore_db_standby_up',
      help: 'Whether a standby of DATABASE_READ_URL answers (1) or is left out (0)',
      labelNames: ['standby'],
      registers: [this.registry],
      aggregator: 'min',
      collect() {
        for (const s of use().standbys) this.set({ standby: s.name }, s.up ? 1 : 0);
      },
    });
  }

  observeRequest(labels: RequestLabels, seconds: number): void {
    this.tally.record(labels.route, labels.method, labels.status, seconds);
  }

  countKey(outcome: KeyOutcomeName, reason?: string): void {
    this.keys.inc({ outcome });
    if (outcome === 'rejected') this.rejections.inc({ reason: reason ?? 'other' });
  }

  /** The Prometheus text exposition of every metric (in a cluster worker: summed over all workers). */
  render(): Promise<string> {
    return this.cluster ? this.cluster.render() : this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
