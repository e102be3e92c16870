// The benchmark's results: one JSON document and a Markdown rendering of it (a table per dataset size, the
// ratio keystore/target when another server was measured, and how each figure grows across sizes).
import type { LoadResult, Tool } from './load.js';
import type { ScenarioId } from './queries.js';
import type { ImportResult } from './server.js';

export interface Measured extends LoadResult {
  /** CPU seconds of the server process during the run (null: not sampled, e.g. a target without --target-pid). */
  cpuSeconds: number | null;
  /** CPU seconds of the PostgreSQL backends serving the server's database (null with PGlite or for a target). */
  dbCpuSeconds: number | null;
  peakRssBytes: number | null;
}

export interface RunResult {
  scenario: ScenarioId;
  title: string;
  concurrency: number;
  /** Distinct requests in the list the run cycles through. */
  listSize: number;
  keystore: Measured;
  target?: Measured;
  /** The machine's 1-minute load average when the run ended (the load generator and servers included). */
  loadAverage: number;
}

export interface ScaleResult {
  debianKeys: number;
  syntheticKeys: number;
  store: string;
  generationSeconds: number;
  imports: { debian?: ImportResult; synthetic?: ImportResult };
  /** Keys stored after the import. */
  storedKeys: number;
  databaseBytes: number;
  databaseBytesAfterRuns: number;
  /** RSS of the idle server right after start. */
  idleRssBytes: number | null;
  runs: RunResult[];
}

export interface BenchReport {
  started: string;
  finished: string;
  machine: { cores: number; memoryBytes: number; loadAverage: number[]; node: string; platform: string };
  commit: string;
  tool: Tool;
  durationSeconds: number;
  target: string | null;
  scales: ScaleResult[];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number | null) => (bytes === null ? '–' : (bytes / (1024 * 1024)).toFixed(bytes < 100 * 1024 * 1024 ? 1 : 0));
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const secs = (n: number | null) => (n === null ? '–' : n.toFixed(1));
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const percent = (from: number, to: number) => (from > 0 ? `${to >= from ? '+' : ''}${(((to - from) / from) * 100).toFixed(0)}%` : '–');

function cpuPerRequest(m: Measured): string {
  if (m.cpuSeconds === null || m.requests === 0) return '–';
  return ((1000 * (m.cpuSeconds + (m.dbCpuSeconds ?? 0))) / m.requests).toFixed(2);
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i < 2 ? '---' : '--:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

export function scaleLabel(s: ScaleResult): string {
  const total = s.debianKeys + s.syntheticKeys;
  return `${int(total)} keys (${int(s.debianKeys)} Debian + ${int(s.syntheticKeys)} synthetic)`;
}

function importLine(name: string, r: ImportResult | undefined): string | null {
  if (!r) return null;
  const rejected = r.rejected + r.failed > 0 ? `, ${int(r.rejected + r.failed)} rejected` : '';
  return `${name} ${int(r.keys)} keys in ${r.seconds.toFixed(1)} s (**${int(r.keysPerSecond)} keys/s**; ${int(r.inserted)} stored${rejected}; ${r.wallSeconds.toFixed(1)} s with start-up, peak RSS ${mib(r.maxRssBytes)} MiB)`;
}

function scaleSection(report: BenchReport, s: ScaleResult): string[] {
  const lines = [`## ${scaleLabel(s)} — ${s.store}`, ''];
  const imports = [importLine('Debian', s.imports.debian), importLine('synthetic', s.imports.synthetic)].filter((l) => l !== null);
  if (imports.length > 0) lines.push(`- import: ${imports.join('; ')}`);
  lines.push(`- stored after import: ${int(s.storedKeys)} keys; database ${mib(s.databaseBytes)} MiB (${mib(s.databaseBytesAfterRuns)} MiB after the pushes); idle server RSS ${mib(s.idleRssBytes)} MiB`);
  if (s.generationSeconds > 0.5) lines.push(`- synthetic keys generated for this run in ${s.generationSeconds.toFixed(0)} s (cached for the next)`);
  lines.push('');
  const header = ['scenario', 'conc.', 'req/s', 'p50 ms', 'p99 ms', 'errors', '404', 'server CPU s', 'db CPU s', 'CPU ms/req', 'peak RSS MiB'];
  if (report.target) header.push('target req/s', 'target p50', 'target p99', 'target errors/404', 'target CPU s', 'target CPU ms/req', 'target RSS MiB', 'req/s ratio');
  const rows = s.runs.map((r) => {
    const k = r.keystore;
    const row = [r.title, String(r.concurrency), int(k.requestsPerSecond), ms(k.p50Ms), ms(k.p99Ms), int(k.errors), int(k.notFound), secs(k.cpuSeconds), secs(k.dbCpuSeconds), cpuPerRequest(k), mib(k.peakRssBytes)];
    if (report.target) {
      const t = r.target;
      row.push(...(t
        ? [int(t.requestsPerSecond), ms(t.p50Ms), ms(t.p99Ms), `${int(t.errors)}/${int(t.notFound)}`, secs(t.cpuSeconds), cpuPerRequest(t), mib(t.peakRssBytes), `**${ratio(k.requestsPerSecond, t.requestsPerSecond)}**`]
        : Array<string>(8).fill('–')));
    }
    return row;
  });
  lines.push(...table(header, rows), '');
  const short = (m: Measured | undefined) => m !== undefined && m.seconds < 0.95 * report.durationSeconds;
  for (const r of s.runs.filter((run) => run.scenario === 'push-new' && (short(run.keystore) || short(run.target)))) {
    const who = [short(r.keystore) ? `keystore in ${r.keystore.seconds.toFixed(1)} s` : '', short(r.target) ? `the target in ${r.target!.seconds.toFixed(1)} s` : ''].filter(Boolean).join(', ');
    lines.push(`Note: at concurrency ${r.concurrency}, the ${r.listSize} new keys were all pushed before the end of the run (${who}); --fresh gives more.`);
  }
  lines.push('');
  return lines;
}

function growthSection(report: BenchReport): string[] {
  const scales = report.scales;
  const first = scales[0]!;
  const last = scales[scales.length - 1]!;
  const header = ['figure', 'conc.', ...scales.map((s) => `${int(s.debianKeys + s.syntheticKeys)} keys`), 'change'];
  const rows: string[][] = [];
  for (const run of first.runs) {
    const same = scales.map((s) => s.runs.find((r) => r.scenario === run.scenario && r.concurrency === run.concurrency));
    const rps = same.map((r) => r?.keystore.requestsPerSecond ?? 0);
    const p99 = same.map((r) => r?.keystore.p99Ms ?? 0);
    rows.push([`${run.title}, req/s`, String(run.concurrency), ...rps.map(int), percent(rps[0]!, rps[rps.length - 1]!)]);
    rows.push([`${run.title}, p99 ms`, String(run.concurrency), ...p99.map(ms), percent(p99[0]!, p99[p99.length - 1]!)]);
  }
  const synthetic = scales.map((s) => s.imports.synthetic?.keysPerSecond ?? 0);
  rows.push(['import, synthetic keys/s', '', ...synthetic.map((v) => (v ? int(v) : '–')), percent(synthetic.find((v) => v > 0) ?? 0, synthetic[synthetic.length - 1]!)]);
  rows.push(['database MiB', '', ...scales.map((s) => mib(s.databaseBytes)), percent(first.databaseBytes, last.databaseBytes)]);
  const peaks = scales.map((s) => Math.max(0, ...s.runs.map((r) => r.keystore.peakRssBytes ?? 0)));
  rows.push(['server peak RSS MiB', '', ...peaks.map((p) => mib(p)), percent(peaks[0]!, peaks[peaks.length - 1]!)]);
  return ['## How the figures grow with the dataset', '', ...table(header, rows), ''];
}

export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const lines = [
    `# keystore benchmark, ${report.started}`,
    '',
    `${m.cores} cores, ${mib(m.memoryBytes)} MiB, load average ${m.loadAverage.map((l) => l.toFixed(2)).join(' ')} at start; Node ${m.node}; ` +
      `commit ${report.commit}; ${report.tool}, ${report.durationSeconds} s per run, load generator on the same machine.` +
      (report.target ? ` Target: ${report.target} (same request lists; ratio = keystore req/s ÷ target req/s).` : ''),
    '',
    'errors = non-2xx answers other than 404, connection errors and timeouts; 404 = keys or searches the server does not find; ' +
      'server CPU = the keystore process (PGlite runs inside it); db CPU = the PostgreSQL backends of its database; ' +
      'CPU ms/req = (server + db CPU) per completed request.',
    '',
  ];
  for (const s of report.scales) lines.push(...scaleSection(report, s));
  if (report.scales.length > 1) lines.push(...growthSection(report));
  return lines.join('\n');
}
