// Drives a server with one request list for a fixed time: wrk (with bench/wrk.lua rotating through the list)
// when installed, else autocannon. Both report completed requests, latency percentiles and answers by kind.
import { execFileSync, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { HkpRequest } from './queries.js';

export type Tool = 'wrk' | 'autocannon';

export interface LoadOptions {
  url: string;
  requests: HkpRequest[];
  connections: number;
  durationSeconds: number;
  connectionClose: boolean;
  /** Sends each request of the list at most once: the run ends when the list is used up, or at the duration. */
  once: boolean;
  /** Where wrk's request list is written. */
  listFile: string;
  /** Times lookups (GET) and pushes (POST) apart as well (the mixed scenario). */
  split?: boolean;
  /** With connectionClose over HTTPS: each new connection resumes a cached TLS session (Node's client). */
  resume?: boolean;
  /** Other instances of the server on other loopback ports (wrk only): the threads are spread over all of them. */
  alsoUrls?: string[];
}

/** A server under load: where it listens and which processes are its own. */
export interface MeasuredServer {
  url: string;
  /** keystore's HTTPS listener, for the HTTPS runs. */
  httpsUrl?: string | undefined;
  /** More instances sharing the load with `url` (wrk threads spread over them, bench/wrk.lua). */
  alsoUrls?: string[];
  /** Processes whose CPU and RSS are the server's (none: not sampled). */
  pids: () => Promise<number[]>;
  /** PostgreSQL backends of its database. */
  dbPids?: () => Promise<number[]>;
}

/** Latencies of one kind of request within a run. */
export interface KindLatency {
  requests: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoadResult {
  /** Completed requests (any status). */
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** 404 answers: a key the server does not hold (a rejected key, an unsupported search). */
  notFound: number;
  /** Other non-2xx answers, connection errors and timeouts. */
  errors: number;
  bytes: number;
  /** With `split`: lookups and pushes apart. */
  lookups?: KindLatency;
  pushes?: KindLatency;
}

const WRK_SCRIPT = fileURLToPath(new URL('./wrk.lua', import.meta.url));

export function wrkInstalled(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // wrk --version prints its usage and exits 1; only a missing binary is an ENOENT.
    return (e as { code?: string }).code !== 'ENOENT';
  }
}

export function runLoad(tool: Tool, options: LoadOptions): Promise<LoadResult> {
  if (options.alsoUrls?.length && (tool !== 'wrk' || options.resume)) throw new Error('a load spread over several instances needs wrk');
  // wrk makes a full handshake for every connection: resuming clients get Node's, which caches sessions.
  if (tool === 'wrk' && !options.resume) return runWrk(options);
  // autocannon's reconnectRate drops the response it reconnects after, with "Connection: close" alone it writes
  // the next request on the closing socket, and it cannot stop at the end of a list within a duration: those
  // runs get a small driver of their own.
  return options.connectionClose || options.once || options.split ? runNodeClient(options) : runAutocannon(options);
}

async function runWrk(options: LoadOptions): Promise<LoadResult> {
  await writeFile(
    options.listFile,
    options.requests.map((r) => `${r.method} ${r.path}${r.body !== undefined ? ` ${r.body}` : ''}`).join('\n') + '\n',
  );
  // Timing requests apart needs one connection per thread (wrk.lua); over several instances, as many threads on each.
  const instances = 1 + (options.alsoUrls?.length ?? 0);
  const perInstance = Math.max(1, Math.floor(Math.min(options.connections, availableParallelism()) / instances));
  const threads = options.split ? options.connections : instances * perInstance;
  if (options.connections % threads !== 0 && instances > 1)
    throw new Error(`${options.connections} connections do not spread evenly over ${instances} instances`);
  const ports = instances > 1 ? [options.url, ...options.alsoUrls!].map((u) => new URL(u).port).join(',') : '';
  const args = [
    '-t',
    String(threads),
    '-c',
    String(options.connections),
    '-d',
    `${options.durationSeconds}s`,
    '--timeout',
    '10s',
    '-s',
    WRK_SCRIPT,
    ...(options.connectionClose ? ['-H', 'Connection: close'] : []),
    options.url,
    '--',
    options.listFile,
    String(threads),
    options.once ? 'once' : 'cycle',
    ...(options.split ? ['split'] : []),
  ];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRK_PORTS: ports } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited with ${code}:\n${out}`))));
  });
  const line = output.split('\n').find((l) => l.startsWith('WRK_RESULT '));
  if (!line) throw new Error(`wrk printed no result:\n${output}`);
  const r = JSON.parse(line.slice('WRK_RESULT '.length)) as {
    requests: number;
    durationUs: number;
    activeUs: number;
    bytes: number;
    p50Us: number;
    p99Us: number;
    notFound: number;
    otherStatus: number;
    connectErrors: number;
    readErrors: number;
    writeErrors: number;
    timeouts: number;
    lookups: number;
    lookupP50Us: number;
    lookupP99Us: number;
    pushes: number;
    pushP50Us: number;
    pushP99Us: number;
  };
  const seconds = (options.once ? r.activeUs : r.durationUs) / 1e6;
  return {
    requests: r.requests,
    seconds,
    requestsPerSecond: r.requests / seconds,
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
    notFound: r.notFound,
    errors: r.otherStatus + r.connectErrors + r.readErrors + r.writeErrors + r.timeouts,
    bytes: r.bytes,
    ...(options.split
      ? {
          lookups: { requests: r.lookups, p50Ms: r.lookupP50Us / 1000, p99Ms: r.lookupP99Us / 1000 },
          pushes: { requests: r.pushes, p50Ms: r.pushP50Us / 1000, p99Ms: r.pushP99Us / 1000 },
        }
      : {}),
  };
}

async function runAutocannon(options: LoadOptions): Promise<LoadResult> {
  // One counter shared by every connection, so that each request of the list is sent once per round.
  let next = 0;
  const list = options.requests;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: 10,
    ...(options.connectionClose ? { reconnectRate: 1, headers: { connection: 'close' } } : {}),
    requests: [
      {
        setupRequest: (request) => {
          const r = list[next++ % list.length]!;
          const headers = { ...request.headers, ...(r.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) };
          return { ...request, method: r.method, path: r.path, headers, ...(r.body !== undefined ? { body: r.body } : {}) };
        },
      },
    ],
  });
  const notFound = Number(result.statusCodeStats['404']?.count ?? 0);
  const completed = result.latency.totalCount ?? result.requests.total;
  return {
    requests: completed,
    seconds: result.duration,
    requestsPerSecond: completed / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    notFound,
    errors: result.non2xx - notFound + result.errors,
    bytes: result.throughput.total,
  };
}

/** Closed loops, one per connection, with Node's HTTP client; with connectionClose a new connection per request. */
async function runNodeClient(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  const list = options.requests;
  const agent = options.resume
    ? new https.Agent({ keepAlive: false, maxCachedSessions: 100 })
    : options.connectionClose
      ? false
      : new (url.protocol === 'https:' ? https : http).Agent({ keepAlive: true, maxSockets: options.connections });
  const latencies: number[] = [];
  const byMethod = { GET: [] as number[], POST: [] as number[] };
  let next = 0;
  let notFound = 0;
  let errors = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(options.durationSeconds * 1e9);
  const send = (r: HkpRequest) =>
    new Promise<void>((resolve) => {
      const sent = process.hrtime.bigint();
      const headers: Record<string, string> = options.connectionClose ? { connection: 'close' } : {};
      if (r.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      // HTTPS runs (a self-signed benchmark certificate): a full handshake per connection, the certificate not checked.
      const client = url.protocol === 'https:' ? https : http;
      const request = client.request(
        { host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent, timeout: 10_000, rejectUnauthorized: false },
        (response) => {
          response.on('data', (chunk: Buffer) => (bytes += chunk.length));
          response.on('end', () => {
            const ms = Number(process.hrtime.bigint() - sent) / 1e6;
            latencies.push(ms);
            byMethod[r.method].push(ms);
            if (response.statusCode === 404) notFound++;
            else if (!response.statusCode || response.statusCode < 200 || response.statusCode > 299) errors++;
            resolve();
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', () => {
        errors++;
        resolve();
      });
      request.end(r.body);
    });
  const loop = async () => {
    while (process.hrtime.bigint() < deadline && !(options.once && next >= list.length)) await send(list[next++ % list.length]!);
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  if (agent) agent.destroy();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const kind = (list: number[]): KindLatency => {
    list.sort((a, b) => a - b);
    return { requests: list.length, p50Ms: percentile(list, 50), p99Ms: percentile(list, 99) };
  };
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    notFound,
    errors,
    bytes,
    ...(options.split ? { lookups: kind(byMethod.GET), pushes: kind(byMethod.POST) } : {}),
  };
}
