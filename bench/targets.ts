// The issue's performance targets, evaluated on a benchmark report: one line each with the figure measured, the
// goal and whether it is met. Pure (the report in, the lines out), so that it can be tested.
import { lastToFirstRate } from './imports.js';
import type { BenchReport, Measured, RunResult, ScaleResult } from './report.js';
import type { ScenarioId } from './queries.js';

export type TargetStatus = 'met' | 'not met' | 'not measured' | 'reported';

export interface TargetLine {
  id: string;
  /** What is compared, e.g. "get by fingerprint, Connection: close, vs nginx". */
  figure: string;
  /** e.g. "≥ 0.80×". */
  goal: string;
  /** The figure as measured (or why it was not). */
  measured: string;
  /** The number the goal is checked on (a ratio, keys/s, ms, bytes), null when not measured. */
  value: number | null;
  status: TargetStatus;
}

const RSS_LIMIT_BYTES = 150e6;
const times = (n: number) => `${n.toFixed(2)}×`;
const ms = (n: number) => `${n.toFixed(n >= 10 ? 1 : 2)} ms`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (n: number) => `${n >= 0 ? '+' : ''}${(n * 100).toFixed(0)}%`;

function line(id: string, figure: string, goal: string, value: number | null, measured: string, pass: ((v: number) => boolean) | null): TargetLine {
  const status: TargetStatus = value === null ? 'not measured' : pass === null ? 'reported' : pass(value) ? 'met' : 'not met';
  return { id, figure, goal, measured, value, status };
}

const runsOf = (s: ScaleResult, id: ScenarioId) => s.runs.filter((r) => r.scenario === id);

/**
 * keystore req/s ÷ the other server's, for each run of a scenario that has both: the lowest (the goal must hold
 * at every concurrency) and the list "a/b/c at c=1/4/16".
 */
function lowestRatio(runs: RunResult[], other: (r: RunResult) => Measured | undefined): { value: number; at: number; all: string } | null {
  const pairs = runs.flatMap((r) => {
    const o = other(r);
    return o && o.requestsPerSecond > 0 ? [{ c: r.concurrency, ratio: r.keystore.requestsPerSecond / o.requestsPerSecond }] : [];
  });
  if (pairs.length === 0) return null;
  const lowest = pairs.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  return { value: lowest.ratio, at: lowest.c, all: `${pairs.map((p) => p.ratio.toFixed(2)).join('/')} at c=${pairs.map((p) => p.c).join('/')}` };
}

function ratioLine(
  id: string,
  figure: string,
  minimum: number,
  runs: RunResult[],
  other: (r: RunResult) => Measured | undefined,
  missing: string,
): TargetLine {
  const r = lowestRatio(runs, other);
  return line(
    id,
    figure,
    `≥ ${times(minimum)}`,
    r?.value ?? null,
    r ? `${times(r.value)}${r.all.includes('/') ? ` (lowest; ${r.all})` : ''}` : missing,
    (v) => v >= minimum,
  );
}

/** A search ≥ `minimum`× the target's req/s at every concurrency, with a p99 no worse than the target's at each. */
function searchLine(id: string, figure: string, minimum: number, runs: RunResult[], targetName: string): TargetLine {
  const r = lowestRatio(runs, (run) => run.target);
  const withTarget = runs.filter((run) => run.target);
  const worse = withTarget.filter((run) => run.keystore.p99Ms > run.target!.p99Ms);
  const p99 = withTarget.map((run) => `${run.keystore.p99Ms.toFixed(2)} vs ${run.target!.p99Ms.toFixed(2)}`).join(', ');
  const measured = r
    ? `${times(r.value)} (lowest; ${r.all}); p99 ms ${p99}${worse.length ? ` — worse at c=${worse.map((w) => w.concurrency).join('/')}` : ''}`
    : `no ${targetName} runs`;
  const t = line(id, figure, `≥ ${times(minimum)}, p99 no worse`, r?.value ?? null, measured, (v) => v >= minimum && worse.length === 0);
  return t;
}

/** Largest drop (most negative change) of req/s from the first to the last scale over the runs of some scenarios. */
function worstChange(
  first: ScaleResult,
  last: ScaleResult,
  ids: ScenarioId[],
  runsOf: (s: ScaleResult) => RunResult[] = (s) => s.runs,
): { change: number; what: string } | null {
  let worst: { change: number; what: string } | null = null;
  for (const run of runsOf(first).filter((r) => ids.includes(r.scenario))) {
    const later = runsOf(last).find((r) => r.scenario === run.scenario && r.concurrency === run.concurrency);
    if (!later || run.keystore.requestsPerSecond <= 0) continue;
    const change = later.keystore.requestsPerSecond / run.keystore.requestsPerSecond - 1;
    if (!worst || change < worst.change) worst = { change, what: `${run.title}, c=${run.concurrency}` };
  }
  return worst;
}

const keysOf = (s: ScaleResult) => s.debianKeys + s.syntheticKeys;

export function evaluateTargets(report: Omit<BenchReport, 'targets'>): TargetLine[] {
  const scales = report.scales;
  const s = scales[scales.length - 1];
  if (!s) return [];
  const sks = report.targetName ?? 'SKS';
  const noNginx = 'not measured (nginx not installed or scenario not selected)';
  const noTarget = `not measured (no ${sks} run: sks not installed, --no-sks, or scenario not selected)`;
  const out: TargetLine[] = [
    ratioLine(
      'get-fpr-close-nginx',
      'get by fingerprint, Connection: close, vs nginx static',
      0.8,
      runsOf(s, 'get-fpr-close'),
      (r) => r.nginx,
      noNginx,
    ),
    ratioLine('get-fpr-nginx', 'get by fingerprint, kept alive, vs nginx static', 0.9, runsOf(s, 'get-fpr'), (r) => r.nginx, noNginx),
    ratioLine('get-fpr-sks', `get by fingerprint vs ${sks}`, 5, runsOf(s, 'get-fpr'), (r) => r.target, noTarget),
    ratioLine(
      'get-fpr-https-close-nginx',
      'get by fingerprint, HTTPS, Connection: close, vs nginx terminating TLS',
      0.8,
      runsOf(s, 'get-fpr-https-close'),
      (r) => r.nginx,
      noNginx,
    ),
    searchLine('index-email-sks', `index by e-mail vs ${sks}`, 2, runsOf(s, 'index-email'), sks),
    searchLine('index-name-sks', `index by name vs ${sks}`, 2, runsOf(s, 'index-name'), sks),
  ];
  const debianRatio = s.sks?.ratios.debian ?? null;
  out.push(
    line(
      'import-debian-sks',
      `import of the Debian keyrings vs ${sks}'s build + cleandb + pbuild`,
      '≤ 4×',
      debianRatio,
      debianRatio !== null && s.imports.debian && s.sks?.builds
        ? `${times(debianRatio)} (${s.imports.debian.wallSeconds.toFixed(1)} s vs ${(s.imports.synthetic ? s.sks.builds.debian! : s.sks.builds.all).total.toFixed(1)} s)`
        : 'not measured (no Debian keyrings, or SKS not built by the bench)',
      (v) => v <= 4,
    ),
  );
  const synthetic = s.imports.synthetic;
  out.push(
    line(
      'import-synthetic-rate',
      'import of synthetic keys',
      '≥ 5,000 keys/s',
      synthetic?.keysPerSecond ?? null,
      synthetic
        ? `${int(synthetic.keysPerSecond)} keys/s (${int(synthetic.keys)} keys${s.sks?.ratios.synthetic != null ? `; ${times(s.sks.ratios.synthetic)} ${sks}'s build time` : ''})`
        : 'not measured (--keys 0)',
      (v) => v >= 5000,
    ),
  );
  for (const [scenario, kind] of [
    ['push-new', 'new'],
    ['push-stored', 'stored'],
  ] as const) {
    const runs = runsOf(s, scenario).filter((r) => r.concurrency === 4);
    out.push(ratioLine(`${scenario}-sks`, `pushes of ${kind} keys vs ${sks}, c=4`, 1, runs, (r) => r.target, noTarget));
  }
  const mixed = runsOf(s, 'mixed').find((r) => r.keystore.lookups);
  out.push(
    line(
      'mixed-p99',
      'mixed load (95% lookups, 5% pushes), c=16: lookups p99',
      '< 20 ms',
      mixed?.keystore.lookups?.p99Ms ?? null,
      mixed ? ms(mixed.keystore.lookups!.p99Ms) : 'not measured (scenario not selected)',
      (v) => v < 20,
    ),
  );
  const peaks = s.runs.map((r) => r.keystore.peakRssBytes).filter((p): p is number => p !== null);
  const peak = peaks.length > 0 ? Math.max(...peaks) : null;
  out.push(
    line(
      'peak-rss',
      'server RSS (all its processes) during the runs',
      '< 150 MB',
      peak,
      peak !== null ? `${(peak / 1e6).toFixed(0)} MB peak (${(peak / 2 ** 20).toFixed(0)} MiB)` : 'not measured',
      (v) => v < RSS_LIMIT_BYTES,
    ),
  );
  out.push(...scaleLines(scales));
  out.push(instancesLine(s));
  return out;
}

const LOOKUP_IDS: ScenarioId[] = ['get-fpr', 'get-fpr-close', 'get-longid'];
const SEARCH_IDS: ScenarioId[] = ['index-email', 'index-name', 'index-shortid'];

function scaleLines(scales: ScaleResult[]): TargetLine[] {
  const first = scales[0]!;
  const last = scales[scales.length - 1]!;
  const parts = last.imports.syntheticParts;
  const flat = lastToFirstRate(parts);
  const out = [
    line(
      'import-flat',
      'import rate, last part ÷ first part of the synthetic keys',
      '≥ 0.90× (flat)',
      flat,
      flat !== null
        ? `${times(flat)} (${int(parts![0]!.keysPerSecond)} → ${int(parts![parts!.length - 1]!.keysPerSecond)} keys/s, ${parts!.length} parts of ${int(last.syntheticKeys)} keys)`
        : 'not measured (fewer than 2,000 synthetic keys)',
      (v) => v >= 0.9,
    ),
  ];
  const multi = scales.length > 1;
  const sizes = `${int(keysOf(first))} → ${int(keysOf(last))} keys`;
  const uncached = (s: ScaleResult) => s.uncached ?? [];
  for (const [id, figure, ids, runsOf] of [
    ['lookups-drop', 'lookups (get by fingerprint, long key ID), req/s change', LOOKUP_IDS, undefined],
    ['searches-drop', 'searches (index by e-mail, name, short key ID), req/s change', SEARCH_IDS, undefined],
    ['lookups-drop-uncached', 'lookups with the lookup cache off, req/s change', LOOKUP_IDS, uncached],
    ['searches-drop-uncached', 'searches with the lookup cache off, req/s change', SEARCH_IDS, uncached],
  ] as [string, string, ScenarioId[], ((s: ScaleResult) => RunResult[]) | undefined][]) {
    const w = multi ? worstChange(first, last, ids, runsOf) : null;
    const why = !multi ? 'not measured (needs --scales)' : runsOf ? 'not measured (no runs with the cache off: --no-uncached)' : 'not measured';
    out.push(
      line(
        id,
        `${figure}, smallest → largest dataset`,
        '> −10%',
        w?.change ?? null,
        w ? `${pct(w.change)} (worst: ${w.what}; ${sizes})` : why,
        (v) => v > -0.1,
      ),
    );
  }
  const perKey = last.storedKeys > 0 ? last.databaseBytes / last.storedKeys : null;
  const marginal =
    multi && last.storedKeys > first.storedKeys ? (last.databaseBytes - first.databaseBytes) / (last.storedKeys - first.storedKeys) : null;
  out.push(
    line(
      'db-per-key',
      'database size per key',
      'reported',
      perKey,
      perKey !== null
        ? `${int(perKey)} bytes/key at ${int(last.storedKeys)} keys${marginal !== null ? `; ${int(marginal)} bytes per added key (${sizes})` : ''}`
        : 'not measured',
      null,
    ),
  );
  const rate = parts?.[parts.length - 1]?.keysPerSecond ?? last.imports.synthetic?.keysPerSecond;
  const tenMillion = 10_000_000;
  const projected =
    multi && marginal !== null && keysOf(last) < tenMillion && rate ? last.databaseBytes + marginal * (tenMillion - last.storedKeys) : null;
  out.push(
    line(
      'projection-10m',
      '10,000,000 keys, projected from the two largest sizes',
      'reported',
      projected,
      projected !== null
        ? `database ≈ ${(projected / 2 ** 30).toFixed(1)} GiB; import ≈ ${(tenMillion / rate! / 3600).toFixed(1)} h at the last part's rate`
        : 'not measured (needs --scales, largest under 10M)',
      null,
    ),
  );
  return out;
}

function instancesLine(s: ScaleResult): TargetLine {
  const runs = s.instances?.runs ?? [];
  const parts: string[] = [];
  let best: number | null = null;
  for (const one of runs.filter((r) => r.setup === 'one instance')) {
    const same = (setup: string) => runs.find((r) => r.setup === setup && r.scenario === one.scenario && r.concurrency === one.concurrency);
    const two = same('two instances');
    const standby = same('standby reads');
    const rps = one.measured.requestsPerSecond;
    if (rps <= 0) continue;
    const ratios = [
      two ? `2 inst. ${times(two.measured.requestsPerSecond / rps)}` : '',
      standby ? `standby ${times(standby.measured.requestsPerSecond / rps)}` : '',
    ].filter(Boolean);
    if (two) best = Math.max(best ?? 0, two.measured.requestsPerSecond / rps);
    parts.push(`${one.scenario} c=${one.concurrency}: ${ratios.join(', ')}`);
  }
  const why = s.instances?.notes.find((n) => n.startsWith('no ')) ?? 'not measured (PGlite, or --no-instances)';
  return line(
    'instances',
    'lookups with 2 instances and from a standby, ÷ 1 instance',
    'reported',
    parts.length > 0 ? best : null,
    parts.length > 0 ? parts.join('; ') : why,
    null,
  );
}
