// npm run bench: loads a dataset into a fresh store, starts `keystore serve`, drives it with wrk (or autocannon)
// over fixed request lists, optionally side by side with another HKP server (--target), and writes the
// results as Markdown and JSON under bench/results/. See bench/README.md and `npm run bench -- --help`.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { datasetFiles, FRESH_POOL, loadDataset, writeKeydump, type Dataset } from './dataset.js';
import { syntheticKeys } from './generate.js';
import { combineImports, importPartCount, importParts, sksImportRatios, type SksBuilds } from './imports.js';
import { measureInstances } from './instances.js';
import { runLoad, type MeasuredServer } from './load.js';
import { makeBenchCertificate, nginxInstalled, opensslInstalled, startNginx } from './nginx.js';
import { HELP, parseOptions, UsageError, type BenchOptions } from './options.js';
import { processTree, ProcessSampler } from './procstat.js';
import { buildLists, pushes, runOrder, type HkpRequest, type Scenario, type ScenarioId } from './queries.js';
import { renderMarkdown, scaleLabel, type BenchReport, type Measured, type RunResult, type ScaleResult } from './report.js';
import { build, importKeys, ROOT, startKeystore, type ImportResult, type RunningKeystore } from './server.js';
import { sksInstalled, sksVersion, startSks, type SksBuildTimes, type SksInstance } from './sks.js';
import { createStore, type Store } from './store.js';
import { evaluateTargets } from './targets.js';

let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2), process.env);
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  console.error(`npm run bench: ${e.message} (see --help)`);
  process.exit(2);
}
if (options.help) {
  console.log(HELP);
  process.exit(0);
}
const { durationSeconds, concurrencies, target, targetPids, tool, freshPerRun, warmupSeconds } = options;
// HTTPS runs need openssl for the benchmark's certificate. Reads first, pushes last (SKS keeps what is pushed).
const scenarios = runOrder(options.scenarios.filter((s) => !s.tls || opensslInstalled()));
if (scenarios.length < options.scenarios.length) process.stderr.write('openssl is not installed: no HTTPS runs\n');
const useSks = options.sks && sksInstalled();
if (options.sks && !useSks) process.stderr.write('sks is not installed (apt-get install sks): no SKS side by side\n');

const log = (line: string) => process.stderr.write(`${line}\n`);
const cleanups: (() => Promise<void>)[] = [];
let interruptedAt = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // npm and tsx pass a Ctrl-C on to the bench, which got it from the terminal already: a repeat within 2 s is that.
    if (interruptedAt > 0) {
      if (Date.now() - interruptedAt > 2000) process.exit(130);
      return;
    }
    interruptedAt = Date.now();
    log(`\n${signal}: cleaning up (again to quit at once)`);
    void runCleanups().finally(() => process.exit(130));
  });
}
// One cleanup at a time: Ctrl-C's and the error it causes (its children get the signal too) wait for the same one.
let cleaning: Promise<void> = Promise.resolve();
function runCleanups(): Promise<void> {
  cleaning = cleaning.then(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((e: unknown) => log(`cleanup failed: ${String(e)}`));
  });
  return cleaning;
}

/** Generation progress on stderr, at most every 2 s; `generated` says how many keys were made (0: all cached). */
function progress(what: string): { onProgress: (done: number, total: number, rate: number) => void; generated: () => number } {
  let last = 0;
  let generated = 0;
  return {
    onProgress: (done, total, rate) => {
      generated = done;
      if (Date.now() - last < 2000 && done < total) return;
      last = Date.now();
      log(`  ${what}: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} keys generated (${Math.round(rate)} keys/s)`);
    },
    generated: () => generated,
  };
}

async function prepareDataset(synthetic: number, workDir: string): Promise<{ dataset: Dataset; generation: ScaleResult['generation'] }> {
  const started = Date.now();
  const generating = progress('dataset');
  const dataset = await loadDataset({ syntheticCount: synthetic, debian: options.debian, workDir, onProgress: generating.onProgress });
  if (dataset.debianFiles.length === 0 && options.debian)
    log('  the Debian keyrings are not installed (apt-get install debian-keyring): synthetic keys only');
  if (dataset.all.length === 0) throw new Error('the dataset is empty: no Debian keyrings and no synthetic keys (--keys 0)');
  return { dataset, generation: { keys: generating.generated(), seconds: (Date.now() - started) / 1000 } };
}

async function measure(server: MeasuredServer, scenario: Scenario, concurrency: number, requests: HkpRequest[], listFile: string): Promise<Measured> {
  const usage = new ProcessSampler(server.pids);
  const db = server.dbPids ? new ProcessSampler(server.dbPids) : null;
  await Promise.all([usage.start(), db?.start()]);
  const load = runLoad(tool, {
    url: server.url,
    requests,
    connections: concurrency,
    durationSeconds,
    connectionClose: scenario.connectionClose,
    once: scenario.once,
    listFile,
    split: scenario.kind === 'mixed',
    resume: scenario.resume === true,
    ...(server.alsoUrls ? { alsoUrls: server.alsoUrls } : {}),
  });
  // The samplers stop whatever the run's outcome, before its error (if any) is thrown.
  const [serverUsage, dbUsage] = await load.then(
    () => Promise.all([usage.stop(), db?.stop()]),
    async (e: unknown) => {
      await Promise.all([usage.stop(), db?.stop()]);
      throw e;
    },
  );
  const result = await load;
  const sampled = (await server.pids()).length > 0;
  return {
    ...result,
    cpuSeconds: sampled ? serverUsage.cpuSeconds : null,
    peakRssBytes: sampled ? serverUsage.peakRssBytes : null,
    dbCpuSeconds: dbUsage ? dbUsage.cpuSeconds : null,
  };
}

function summary(m: Measured): string {
  const extra = [m.errors > 0 ? `${m.errors} errors` : '', m.notFound > 0 ? `${m.notFound} 404` : ''].filter(Boolean).join(', ');
  return `${Math.round(m.requestsPerSecond).toLocaleString('en-US')} req/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms${extra ? ` (${extra})` : ''}`;
}

async function runScale(synthetic: number): Promise<ScaleResult> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'keystore-bench-'));
  cleanups.push(() => (options.keep ? Promise.resolve() : rm(workDir, { recursive: true, force: true })));
  log(`\n== ${synthetic.toLocaleString('en-US')} synthetic keys${options.debian ? ' + the Debian keyrings' : ''} ==`);
  const { dataset, generation } = await prepareDataset(synthetic, workDir);
  const pushNewRuns = scenarios.some((s) => s.id === 'push-new') ? concurrencies.length : 0;
  const fresh =
    pushNewRuns > 0 ? await syntheticKeys(FRESH_POOL, freshPerRun * pushNewRuns, { onProgress: progress('new keys to push').onProgress }) : [];

  const store: Store = await createStore(options.adminUrl ?? undefined, workDir);
  cleanups.push(async () => {
    await store.close(options.keep);
    if (options.keep)
      log(
        `kept: ${store.description} (${Object.entries(store.env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')})`,
      );
  });
  log(`  store: ${store.description}`);
  const imports = await importDataset(store, dataset);
  log(`  store after the import: ${await store.settle()}`);
  const databaseBytes = await store.size();
  // SKS is built after keystore's import, with nothing else running, from keydumps of the same keys.
  const sks = useSks ? await buildSks(dataset, workDir) : undefined;

  const https = scenarios.some((s) => s.tls) ? await makeBenchCertificate(workDir) : undefined;
  const serveEnv = { ...store.env, ...(options.workers ? { WORKERS: options.workers } : {}) };
  const keystore: RunningKeystore = await startKeystore(serveEnv, https);
  cleanups.push(() => keystore.stop());
  const idle = new ProcessSampler(() => processTree(keystore.pid));
  await idle.start();
  const idleRssBytes = (await idle.stop()).peakRssBytes || null;
  log(`  keystore serve at ${keystore.url} (pid ${keystore.pid})`);

  const lists = await buildLists(dataset.all, { queries: options.queries, pushQueries: options.pushQueries });
  const servers: Servers = {
    keystore: {
      url: keystore.url,
      httpsUrl: keystore.httpsUrl,
      pids: () => processTree(keystore.pid),
      ...(store.kind === 'postgresql' ? { dbPids: () => store.backendPids() } : {}),
    },
    ...(sks
      ? { target: { url: sks.instance.url, pids: async () => sks.instance.pids } }
      : target
        ? { target: { url: target, pids: async () => targetPids } }
        : {}),
  };
  if (scenarios.some((s) => s.static) && nginxInstalled()) {
    // As many nginx workers as keystore serves with (WORKERS: one per CPU but one on PostgreSQL, else one).
    const cpus = availableParallelism();
    const workers = options.workers
      ? options.workers === 'auto'
        ? Math.max(1, cpus - 1)
        : Number(options.workers)
      : store.kind === 'postgresql'
        ? Math.max(1, cpus - 1)
        : 1;
    const nginx = await startNginx({ workDir, certificate: https, keystoreUrl: keystore.url, requests: lists.get('get-fpr')!, workers });
    cleanups.push(() => nginx.stop());
    servers.nginx = { url: nginx.url, httpsUrl: nginx.httpsUrl, pids: () => processTree(nginx.pid) };
    log(
      `  nginx (${workers} worker${workers > 1 ? 's' : ''}) at ${nginx.url}${nginx.httpsUrl ? ` and ${nginx.httpsUrl}, keystore HTTPS at ${keystore.httpsUrl}` : ''} (pid ${nginx.pid})`,
    );
  } else if (scenarios.some((s) => s.static)) {
    log('  nginx is not installed (apt-get install nginx-light): fetches by fingerprint run without it');
  }
  const listFile = path.join(workDir, 'requests.txt');
  await warmUp([servers.keystore, ...(servers.target ? [servers.target] : [])], lists, listFile);
  const runs: RunResult[] = [];
  let instances: ScaleResult['instances'];
  let uncached: RunResult[] | undefined;
  const afterReads = async () => {
    uncached = await uncachedRows(store, serveEnv, lists, listFile);
    instances = await instanceRows(store, keystore, serveEnv, lists, listFile);
  };
  let readsDone = false;
  for (const scenario of scenarios) {
    // After the last read and before the first push: the cache off, one and two instances, reads from a standby.
    if (scenario.kind !== 'read' && !readsDone) {
      readsDone = true;
      await afterReads();
    }
    for (const [level, concurrency] of (scenario.concurrency ? [scenario.concurrency] : scenario.connectionClose ? [4] : concurrencies).entries()) {
      // Each push-of-a-new-key run has keys of its own, so that every push is new to the server.
      const requests =
        scenario.id === 'push-new' ? await pushes(fresh.slice(level * freshPerRun, (level + 1) * freshPerRun)) : lists.get(scenario.id)!;
      runs.push(await measureRun(servers, scenario, concurrency, requests, listFile));
    }
  }
  if (!readsDone) await afterReads();
  const databaseBytesAfterRuns = await store.size();
  await runCleanups();
  return {
    debianKeys: dataset.debian.length,
    syntheticKeys: dataset.synthetic.length,
    store: store.description,
    generation,
    imports,
    storedKeys: (imports.debian?.inserted ?? 0) + (imports.synthetic?.inserted ?? 0),
    databaseBytes,
    databaseBytesAfterRuns,
    idleRssBytes,
    runs,
    ...(sks ? { sks: { version: sksVersion(), builds: sks.builds, ratios: sksImportRatios(imports, sks.builds) } } : {}),
    ...(instances ? { instances } : {}),
    ...(uncached ? { uncached } : {}),
  };
}

// Scenarios run again with the lookup cache off: what the store costs per lookup and search at this size.
const UNCACHED_SCENARIOS: ScenarioId[] = ['get-fpr', 'get-fpr-close', 'get-longid', 'index-email', 'index-name', 'index-shortid'];

/**
 * The lookups and searches at concurrency 4 on a second `keystore serve` with LOOKUP_CACHE_BYTES=0, warmed up as
 * the first (the database's buffers hold the lists' keys), then stopped; undefined with --no-uncached.
 */
async function uncachedRows(
  store: Store,
  serveEnv: Record<string, string>,
  lists: Map<ScenarioId, HkpRequest[]>,
  listFile: string,
): Promise<RunResult[] | undefined> {
  const reads = scenarios.filter((s) => UNCACHED_SCENARIOS.includes(s.id));
  if (!options.uncached || reads.length === 0) return undefined;
  if (store.kind !== 'postgresql') {
    log('  no rows with the cache off on PGlite: the embedded database has one owner, the first instance');
    return undefined;
  }
  log('  with the lookup cache off (LOOKUP_CACHE_BYTES=0):');
  const instance = await startKeystore({ ...serveEnv, LOOKUP_CACHE_BYTES: '0' });
  try {
    const server: MeasuredServer = { url: instance.url, pids: () => processTree(instance.pid), dbPids: () => store.backendPids() };
    await warmUp([server], lists, listFile, reads);
    const runs: RunResult[] = [];
    for (const scenario of reads) runs.push(await measureRun({ keystore: server }, scenario, 4, lists.get(scenario.id)!, listFile));
    return runs;
  } finally {
    await instance.stop();
  }
}

/**
 * SKS from keydumps of the dataset (symbolic links to its files), each build timed: when the dataset has both
 * kinds of keys, the Debian keyrings alone and the synthetic keys alone (built and removed: SKS's time for each
 * import, measured rather than subtracted), then the whole dataset, started on a free loopback port and stopped
 * and removed with the other cleanups.
 */
async function buildSks(dataset: Dataset, workDir: string): Promise<{ instance: SksInstance; builds: SksBuilds }> {
  const builds: Partial<SksBuilds> = {};
  const register = (stop: () => Promise<void>) => cleanups.push(stop);
  if (dataset.debianFiles.length > 0 && dataset.syntheticFiles.length > 0) {
    for (const [kind, files] of [
      ['debian', dataset.debianFiles],
      ['synthetic', dataset.syntheticFiles],
    ] as const) {
      const dir = path.join(workDir, `sks-dump-${kind}`);
      await writeKeydump(files, dir, true);
      const alone = await startSks(dir, { buildOnly: true, register });
      await alone.stop();
      builds[kind] = alone.build;
      log(`  SKS build of the ${kind === 'debian' ? 'Debian keyrings' : 'synthetic keys'} alone: ${describeSksBuild(alone.build)}`);
    }
  }
  const dir = path.join(workDir, 'sks-dump');
  await writeKeydump(datasetFiles(dataset), dir, true);
  const instance = await startSks(dir, { buildOnly: false, register });
  builds.all = instance.build;
  log(`  SKS build of the dataset: ${describeSksBuild(instance.build)}; sks db at ${instance.url} (pid ${instance.pids.join(',')})`);
  return { instance, builds: builds as SksBuilds };
}

const describeSksBuild = (b: SksBuildTimes) =>
  `${b.total.toFixed(1)} s (build ${b.build.toFixed(1)}, cleandb ${b.cleandb.toFixed(1)}, pbuild ${b.pbuild.toFixed(1)})`;

/** The instance rows (PostgreSQL only; noted and skipped on PGlite or with --no-instances). */
async function instanceRows(
  store: Store,
  keystore: RunningKeystore,
  serveEnv: Record<string, string>,
  lists: Map<ScenarioId, HkpRequest[]>,
  listFile: string,
): Promise<ScaleResult['instances']> {
  if (!options.instances) return undefined;
  if (store.kind !== 'postgresql' || !options.adminUrl)
    return { runs: [], notes: ['no rows with two instances or a standby: they need PostgreSQL (DATABASE_URL); this run is on PGlite'] };
  if (tool !== 'wrk') return { runs: [], notes: ['no rows with two instances or a standby: spreading the load over two ports needs wrk'] };
  log('  one and two instances, and reads from a standby:');
  return measureInstances({
    store,
    adminUrl: options.adminUrl,
    keystore,
    serveEnv,
    scenarios,
    concurrencies,
    lists,
    measure: (server, scenario, concurrency, requests) => measure(server, scenario, concurrency, requests, listFile),
    warmUp: (server) => warmUp([server], lists, listFile),
    register: (cleanup) => cleanups.push(cleanup),
    log,
  });
}

/** `keystore import` of the Debian keyrings, then of the synthetic keys in parts: one import rate each (and each part's). */
async function importDataset(store: Store, dataset: Dataset): Promise<ScaleResult['imports']> {
  const imports: ScaleResult['imports'] = {};
  if (dataset.debianFiles.length > 0) {
    imports.debian = await importKeys(store.env, dataset.debianFiles);
    log(`  import, Debian: ${describeImport(imports.debian)}`);
  }
  if (dataset.syntheticFiles.length > 0) {
    const parts: ImportResult[] = [];
    for (const files of importParts(dataset.syntheticFiles, importPartCount(dataset.synthetic.length)))
      parts.push(await importKeys(store.env, files));
    imports.synthetic = combineImports(parts);
    if (parts.length > 1) imports.syntheticParts = parts;
    log(
      `  import, synthetic: ${describeImport(imports.synthetic)}${parts.length > 1 ? `; in ${parts.length} parts, keys/s ${parts.map((p) => Math.round(p.keysPerSecond)).join(', ')}` : ''}`,
    );
  }
  return imports;
}

interface Servers {
  keystore: MeasuredServer;
  target?: MeasuredServer;
  /** nginx serving the same answers as static files (fetches by fingerprint; httpsUrl with a certificate). */
  nginx?: MeasuredServer;
}

/**
 * Each read list sent once in full, then for `warmupSeconds` more, on each server: every measured run then sees
 * the answers of its whole list cached (and the database's buffers holding its keys) at every dataset size, not
 * a share that shrinks as the store grows; the runs with the cache off measure the store itself.
 */
async function warmUp(
  servers: MeasuredServer[],
  lists: Map<ScenarioId, HkpRequest[]>,
  listFile: string,
  which: Scenario[] = scenarios.filter((s) => s.kind === 'read'),
): Promise<void> {
  if (warmupSeconds === 0) return;
  log(`  warm-up: each read list once, then ${warmupSeconds} s`);
  for (const scenario of which.filter((s) => s.kind === 'read' && !s.connectionClose && !s.tls)) {
    for (const server of servers) {
      for (const once of [true, false]) {
        // The pass by bench/load.ts's own client, which ends when the list is used up (wrk runs its whole -d).
        await runLoad(once ? 'autocannon' : tool, {
          url: server.url,
          requests: lists.get(scenario.id)!,
          connections: 4,
          durationSeconds: once ? WARMUP_PASS_LIMIT_SECONDS : warmupSeconds,
          connectionClose: false,
          once,
          listFile,
        });
      }
    }
  }
}

// Longest the warm-up's pass over one list may take (2,000 searches take a few seconds at 1,000,000 keys).
const WARMUP_PASS_LIMIT_SECONDS = 120;

/** One scenario at one concurrency: keystore, then the target right after it with the same requests. */
async function measureRun(servers: Servers, scenario: Scenario, concurrency: number, requests: HkpRequest[], listFile: string): Promise<RunResult> {
  if (scenario.tls) return measureHttpsRun(servers, scenario, concurrency, requests, listFile);
  const keystore = await measure(servers.keystore, scenario, concurrency, requests, listFile);
  const target = servers.target ? await measure(servers.target, scenario, concurrency, requests, listFile) : undefined;
  const nginx = servers.nginx && scenario.static ? await measure(servers.nginx, scenario, concurrency, requests, listFile) : undefined;
  let line = `  ${scenario.title}, ${concurrency} conn.: keystore ${summary(keystore)}`;
  if (keystore.lookups && keystore.pushes)
    line += ` [lookups p99 ${keystore.lookups.p99Ms.toFixed(2)} ms, pushes p99 ${keystore.pushes.p99Ms.toFixed(2)} ms]`;
  if (target) line += ` | target ${summary(target)} | ratio ${(keystore.requestsPerSecond / Math.max(1e-9, target.requestsPerSecond)).toFixed(2)}`;
  if (nginx) line += ` | nginx ${summary(nginx)} | ratio ${(keystore.requestsPerSecond / Math.max(1e-9, nginx.requestsPerSecond)).toFixed(2)}`;
  log(line);
  return {
    scenario: scenario.id,
    title: scenario.title,
    concurrency,
    listSize: requests.length,
    keystore,
    ...(target ? { target } : {}),
    ...(nginx ? { nginx } : {}),
    loadAverage: loadavg()[0]!,
  };
}

/** An HTTPS run: keystore's HTTPS listener, then nginx (when installed) with the same requests; --target is HTTP only. */
async function measureHttpsRun(
  servers: Servers,
  scenario: Scenario,
  concurrency: number,
  requests: HkpRequest[],
  listFile: string,
): Promise<RunResult> {
  const keystore = await measure({ ...servers.keystore, url: servers.keystore.httpsUrl! }, scenario, concurrency, requests, listFile);
  const nginx = servers.nginx?.httpsUrl
    ? await measure({ ...servers.nginx, url: servers.nginx.httpsUrl }, scenario, concurrency, requests, listFile)
    : undefined;
  let line = `  ${scenario.title}, ${concurrency} conn.: keystore ${summary(keystore)}`;
  if (nginx) line += ` | nginx ${summary(nginx)} | ratio ${(keystore.requestsPerSecond / Math.max(1e-9, nginx.requestsPerSecond)).toFixed(2)}`;
  log(line);
  return {
    scenario: scenario.id,
    title: scenario.title,
    concurrency,
    listSize: requests.length,
    keystore,
    ...(nginx ? { nginx } : {}),
    loadAverage: loadavg()[0]!,
  };
}

function describeImport(r: ImportResult): string {
  return `${r.keys} keys in ${r.seconds.toFixed(1)} s (${Math.round(r.keysPerSecond)} keys/s), ${r.inserted} stored, ${r.rejected + r.failed} rejected`;
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  if (options.writeKeydump) {
    const workDir = await mkdtemp(path.join(tmpdir(), 'keystore-bench-'));
    try {
      const { dataset } = await prepareDataset(options.scales[options.scales.length - 1]!, workDir);
      const files = await writeKeydump(datasetFiles(dataset), options.writeKeydump);
      log(`wrote ${dataset.all.length.toLocaleString('en-US')} keys in ${files.length} keydump files to ${options.writeKeydump}`);
      log(`e.g.: bench/sks/start.sh ${options.writeKeydump} 11380`);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
    return;
  }
  const started = new Date();
  const machine = {
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    loadAverage: loadavg(),
    node: process.version,
    platform: process.platform,
  };
  log(
    `keystore benchmark: ${tool}, ${durationSeconds} s per run, concurrency ${concurrencies.join('/')}, ${options.adminUrl ? 'PostgreSQL (DATABASE_URL)' : 'PGlite'}${useSks ? ', SKS side by side' : target ? `, target ${target}` : ''}; load average ${machine.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
  );
  if (options.build) {
    log('building (npm run build)…');
    await build();
  }
  const results: ScaleResult[] = [];
  for (const synthetic of options.scales) results.push(await runScale(synthetic));
  const measured = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    machine,
    commit: commit(),
    tool,
    durationSeconds,
    target: useSks ? `SKS ${sksVersion() ?? ''} (Debian's sks, built from a keydump of the same keys and started on loopback by the bench)` : target,
    targetName: useSks ? 'SKS' : target ? 'the --target server' : null,
    scales: results,
  };
  const report: BenchReport = { ...measured, targets: evaluateTargets(measured) };
  const markdown = renderMarkdown(report);
  await mkdir(options.out, { recursive: true });
  const stamp = started
    .toISOString()
    .replace(/:/g, '-')
    .replace(/\.\d+Z$/, 'Z');
  const base = path.join(options.out, stamp);
  await writeFile(`${base}.md`, markdown + '\n');
  await writeFile(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  console.log(markdown);
  log(`written: ${base}.md, ${base}.json (${results.map(scaleLabel).join('; ')})`);
}

main().catch(async (e: unknown) => {
  log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  await runCleanups();
  process.exit(1);
});
