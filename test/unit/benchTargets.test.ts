// The pure parts of npm run bench: the targets evaluated on a report, the import in parts, the SKS import
// ratios, start.sh's output, the order of the scenarios and the concurrencies of the instance rows.
import { describe, expect, it } from 'vitest';
import { combineImports, importPartCount, importParts, lastToFirstRate, sksImportRatios } from '../../bench/imports.js';
import { instanceConcurrencies } from '../../bench/instances.js';
import { runOrder, SCENARIOS, type ScenarioId } from '../../bench/queries.js';
import type { BenchReport, Measured, RunResult, ScaleResult } from '../../bench/report.js';
import type { ImportResult } from '../../bench/server.js';
import { parseStartOutput } from '../../bench/sks.js';
import { evaluateTargets, type TargetLine } from '../../bench/targets.js';

function measured(rps: number, p99Ms = 1, extra: Partial<Measured> = {}): Measured {
  return {
    requests: rps,
    seconds: 1,
    requestsPerSecond: rps,
    p50Ms: p99Ms / 2,
    p99Ms,
    notFound: 0,
    errors: 0,
    bytes: 0,
    cpuSeconds: 1,
    dbCpuSeconds: 0,
    peakRssBytes: 100e6,
    ...extra,
  };
}

function run(scenario: ScenarioId, concurrency: number, keystore: Measured, others: { target?: Measured; nginx?: Measured } = {}): RunResult {
  return { scenario, title: scenario, concurrency, listSize: 2000, keystore, ...others, loadAverage: 1 };
}

function imported(keys: number, seconds: number, wallSeconds = seconds + 1): ImportResult {
  return {
    files: 1,
    keys,
    inserted: keys,
    updated: 0,
    unchanged: 0,
    rejected: 0,
    failed: 0,
    reasons: {},
    seconds,
    keysPerSecond: keys / seconds,
    maxRssBytes: 1e8,
    wallSeconds,
  };
}

function scale(partial: Partial<ScaleResult> = {}): ScaleResult {
  return {
    debianKeys: 1178,
    syntheticKeys: 10_000,
    store: 'PostgreSQL',
    generation: { keys: 0, seconds: 0 },
    imports: {},
    storedKeys: 11_178,
    databaseBytes: 100e6,
    databaseBytesAfterRuns: 100e6,
    idleRssBytes: 80e6,
    runs: [],
    ...partial,
  };
}

function report(scales: ScaleResult[]): Omit<BenchReport, 'targets'> {
  return {
    started: '',
    finished: '',
    machine: { cores: 2, memoryBytes: 0, loadAverage: [0], node: '', platform: '' },
    commit: '',
    tool: 'wrk',
    durationSeconds: 1,
    target: 'SKS',
    targetName: 'SKS',
    scales,
  };
}

const byId = (lines: TargetLine[], id: string) => lines.find((l) => l.id === id)!;

describe('bench targets', () => {
  it('needs a ratio at every concurrency: the lowest decides', () => {
    const lines = evaluateTargets(
      report([
        scale({
          runs: [
            run('get-fpr', 1, measured(950), { nginx: measured(1000), target: measured(100) }),
            run('get-fpr', 4, measured(850), { nginx: measured(1000), target: measured(100) }),
            run('get-fpr-close', 4, measured(810), { nginx: measured(1000) }),
          ],
        }),
      ]),
    );
    expect(byId(lines, 'get-fpr-nginx')).toMatchObject({ status: 'not met', value: 0.85 });
    expect(byId(lines, 'get-fpr-nginx').measured).toContain('0.95/0.85 at c=1/4');
    expect(byId(lines, 'get-fpr-close-nginx')).toMatchObject({ status: 'met', value: 0.81 });
    expect(byId(lines, 'get-fpr-sks')).toMatchObject({ status: 'met', value: 8.5 });
    expect(byId(lines, 'get-fpr-https-close-nginx').status).toBe('not measured');
  });

  it('a search twice as fast as SKS with a worse p99 is not met', () => {
    const lines = evaluateTargets(
      report([
        scale({
          runs: [
            run('index-email', 4, measured(3000, 5), { target: measured(1000, 4) }),
            run('index-name', 4, measured(3000, 3), { target: measured(1000, 4) }),
          ],
        }),
      ]),
    );
    expect(byId(lines, 'index-email-sks').status).toBe('not met');
    expect(byId(lines, 'index-email-sks').measured).toContain('worse at c=4');
    expect(byId(lines, 'index-name-sks').status).toBe('met');
  });

  it('checks imports, pushes at c=4, the mixed p99 and the peak RSS', () => {
    const lines = evaluateTargets(
      report([
        scale({
          imports: { debian: imported(1178, 7, 8), synthetic: imported(10_000, 1.6) },
          sks: {
            version: '1.1.6',
            builds: {
              debian: { build: 1.5, cleandb: 0.2, pbuild: 0.3, total: 2 },
              synthetic: { build: 3, cleandb: 0, pbuild: 1, total: 4 },
              all: { build: 4, cleandb: 0, pbuild: 2, total: 6 },
            },
            ratios: { debian: 4, synthetic: 0.65 },
          },
          runs: [
            run('push-new', 1, measured(50), { target: measured(100) }),
            run('push-new', 4, measured(120), { target: measured(100) }),
            run('push-stored', 4, measured(99), { target: measured(100) }),
            run(
              'mixed',
              16,
              measured(1000, 30, {
                lookups: { requests: 950, p50Ms: 1, p99Ms: 19.9 },
                pushes: { requests: 50, p50Ms: 10, p99Ms: 80 },
                peakRssBytes: 151e6,
              }),
            ),
          ],
        }),
      ]),
    );
    expect(byId(lines, 'import-debian-sks')).toMatchObject({ status: 'met', value: 4 });
    expect(byId(lines, 'import-debian-sks').measured).toContain('8.0 s vs 2.0 s');
    expect(byId(lines, 'import-synthetic-rate')).toMatchObject({ status: 'met', value: 6250 });
    expect(byId(lines, 'push-new-sks')).toMatchObject({ status: 'met', value: 1.2 });
    expect(byId(lines, 'push-stored-sks')).toMatchObject({ status: 'not met', value: 0.99 });
    expect(byId(lines, 'mixed-p99')).toMatchObject({ status: 'met', value: 19.9 });
    expect(byId(lines, 'peak-rss')).toMatchObject({ status: 'not met', value: 151e6 });
  });

  it('says what was not measured rather than passing it', () => {
    const lines = evaluateTargets(report([scale()]));
    for (const id of [
      'get-fpr-nginx',
      'import-debian-sks',
      'import-synthetic-rate',
      'mixed-p99',
      'peak-rss',
      'import-flat',
      'lookups-drop',
      'lookups-drop-uncached',
      'instances',
    ]) {
      expect(byId(lines, id).status).toBe('not measured');
    }
  });

  it('compares the smallest and the largest dataset with --scales', () => {
    const parts = [imported(1000, 0.2), imported(1000, 0.25)];
    const small = scale({
      syntheticKeys: 0,
      storedKeys: 1178,
      databaseBytes: 60e6,
      runs: [run('get-fpr', 4, measured(1000)), run('index-email', 4, measured(1000))],
      uncached: [run('get-longid', 4, measured(500)), run('index-name', 4, measured(400))],
    });
    const large = scale({
      syntheticKeys: 100_000,
      storedKeys: 101_178,
      databaseBytes: 360e6,
      imports: { synthetic: combineImports(parts), syntheticParts: parts },
      runs: [run('get-fpr', 4, measured(950)), run('index-email', 4, measured(850))],
      uncached: [run('get-longid', 4, measured(300)), run('index-name', 4, measured(380))],
    });
    const lines = evaluateTargets(report([small, large]));
    expect(byId(lines, 'lookups-drop-uncached')).toMatchObject({ status: 'not met', value: expect.closeTo(-0.4, 6) });
    expect(byId(lines, 'searches-drop-uncached')).toMatchObject({ status: 'met', value: expect.closeTo(-0.05, 6) });
    expect(byId(lines, 'lookups-drop')).toMatchObject({ status: 'met', value: expect.closeTo(-0.05, 6) });
    expect(byId(lines, 'searches-drop')).toMatchObject({ status: 'not met', value: expect.closeTo(-0.15, 6) });
    expect(byId(lines, 'import-flat')).toMatchObject({ status: 'not met', value: expect.closeTo(0.8, 6) });
    expect(byId(lines, 'db-per-key')).toMatchObject({ status: 'reported' });
    expect(byId(lines, 'db-per-key').measured).toContain('3,000 bytes per added key');
    expect(byId(lines, 'projection-10m').status).toBe('reported');
  });

  it('reports two instances and the standby against one', () => {
    const lines = evaluateTargets(
      report([
        scale({
          instances: {
            notes: [],
            runs: [
              { scenario: 'get-fpr', title: '', concurrency: 4, setup: 'one instance', measured: measured(1000) },
              { scenario: 'get-fpr', title: '', concurrency: 4, setup: 'two instances', measured: measured(1500) },
              { scenario: 'get-fpr', title: '', concurrency: 4, setup: 'standby reads', measured: measured(900) },
            ],
          },
        }),
      ]),
    );
    expect(byId(lines, 'instances')).toMatchObject({ status: 'reported', value: 1.5 });
    expect(byId(lines, 'instances').measured).toBe('get-fpr c=4: 2 inst. 1.50×, standby 0.90×');
  });
});

describe('the import in parts', () => {
  it('splits files into consecutive, non-empty parts', () => {
    const files = Array.from({ length: 25 }, (_, i) => `f${i}`);
    const parts = importParts(files, 10);
    expect(parts).toHaveLength(10);
    expect(parts.flat()).toEqual(files);
    expect(parts.every((p) => p.length >= 2 && p.length <= 3)).toBe(true);
    expect(importParts(['a', 'b'], 10)).toEqual([['a'], ['b']]);
    expect(importParts([], 10)).toEqual([]);
  });

  it('makes parts of at least 10,000 keys, at most ten', () => {
    expect([0, 9_999, 10_000, 19_999, 20_000, 100_000, 1_000_000].map(importPartCount)).toEqual([1, 1, 1, 1, 2, 10, 10]);
  });

  it('combines parts as one import with one start-up', () => {
    const combined = combineImports([imported(1000, 2, 3.5), { ...imported(1000, 3, 4), reasons: { 'bad key': 2 }, rejected: 2 }]);
    expect(combined).toMatchObject({ keys: 2000, seconds: 5, keysPerSecond: 400, wallSeconds: 6.5, rejected: 2, reasons: { 'bad key': 2 } });
    expect(lastToFirstRate([imported(1000, 2), imported(1000, 2.5)])).toBeCloseTo(0.8);
    expect(lastToFirstRate([imported(1000, 2)])).toBeNull();
  });

  it('divides each import by the SKS build of the same keys', () => {
    const t = (total: number) => ({ build: total, cleandb: 0, pbuild: 0, total });
    expect(
      sksImportRatios({ debian: imported(1178, 7, 8), synthetic: imported(1000, 1, 3) }, { debian: t(2), synthetic: t(1.5), all: t(3) }),
    ).toEqual({ debian: 4, synthetic: 2 });
    expect(sksImportRatios({ debian: imported(1178, 7, 9) }, { all: t(3) })).toEqual({ debian: 3, synthetic: null });
  });
});

describe('bench/sks/start.sh output', () => {
  it('reads the build times, the URL and the pids', () => {
    const out =
      'SKS_DIR=/tmp/x\nSKS_BUILD_SECONDS=1.250\nSKS_CLEANDB_SECONDS=0.050\nSKS_PBUILD_SECONDS=0.200\nSKS_URL=http://127.0.0.1:1\nSKS_PIDS=12,13\n';
    expect(parseStartOutput(out)).toEqual({
      build: { build: 1.25, cleandb: 0.05, pbuild: 0.2, total: 1.5 },
      url: 'http://127.0.0.1:1',
      pids: [12, 13],
    });
    expect(parseStartOutput('SKS_BUILD_SECONDS=1\n').build).toBeNull();
  });
});

describe('the order of the runs', () => {
  it('runs every read first and the pushes of new keys last, whatever the order given', () => {
    const given = [...SCENARIOS].reverse();
    const order = runOrder(given).map((s) => s.id);
    const kinds = runOrder(given).map((s) => s.kind);
    expect(kinds.lastIndexOf('read')).toBeLessThan(kinds.indexOf('mixed'));
    expect(order.indexOf('mixed')).toBeLessThan(order.indexOf('push-stored'));
    expect(order[order.length - 1]).toBe('push-new');
    expect(runOrder(SCENARIOS).map((s) => s.id)).toEqual(SCENARIOS.map((s) => s.id));
  });

  it('spreads instance rows over two ports: an even number of connections', () => {
    const read = SCENARIOS.find((s) => s.id === 'get-fpr')!;
    const close = SCENARIOS.find((s) => s.id === 'get-fpr-close')!;
    expect(instanceConcurrencies(read, [1, 4, 16])).toEqual([4, 16]);
    expect(instanceConcurrencies(read, [1])).toEqual([4]);
    expect(instanceConcurrencies(close, [1, 16])).toEqual([4]);
  });
});
