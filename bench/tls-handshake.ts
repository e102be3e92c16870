// npm run bench:tls -- [--duration S] [--concurrency N] [--workers LIST]: what a TLS handshake costs keystore.
// A new connection per request (Connection: close) over HTTPS, for: an RSA-2048 and an ECDSA P-256 certificate
// (full handshakes), and a client that resumes sessions (TLS 1.3 tickets, as Node's and browsers' clients do),
// each with 1 and 2 workers (with 2, a resuming client lands on either). Reports requests per second, the
// keystore processes' CPU per request and the share of resumed handshakes. Needs DATABASE_URL (cluster mode) and
// openssl; uses dist/ as built (npm run build). See README "Benchmark".
import https from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { makeBenchCertificate } from './nginx.js';
import { processTree, ProcessSampler } from './procstat.js';
import { startKeystore } from './server.js';
import { createStore } from './store.js';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '4' }, workers: { type: 'string', default: '1,2' } },
});
const durationSeconds = Number(values.duration);
const concurrency = Number(values.concurrency);
const workerCounts = values.workers.split(',').map(Number);
const adminUrl = process.env['DATABASE_URL'];
if (!adminUrl) {
  console.error('npm run bench:tls: set DATABASE_URL (a PostgreSQL server that may create databases)');
  process.exit(2);
}

interface Result {
  requests: number;
  seconds: number;
  resumed: number;
  errors: number;
  cpuSeconds: number;
  peakRssBytes: number;
}

/** Closed loops, a new connection per request; `resume`: one agent caching sessions for all of them. */
async function drive(url: string, resume: boolean): Promise<Omit<Result, 'cpuSeconds' | 'peakRssBytes'>> {
  const target = new URL(url);
  const agent = resume ? new https.Agent({ keepAlive: false, maxCachedSessions: 100 }) : false;
  const deadline = Date.now() + durationSeconds * 1000;
  let requests = 0;
  let resumed = 0;
  let errors = 0;
  const started = Date.now();
  const one = () =>
    new Promise<void>((resolve) => {
      const request = https.request(
        {
          host: target.hostname,
          port: target.port,
          path: `/pks/lookup?op=get&options=mr&search=0x${'AB'.repeat(20)}`,
          headers: { connection: 'close' },
          agent,
          rejectUnauthorized: false,
          timeout: 10_000,
        },
        (response) => {
          response.resume();
          response.on('end', () => {
            requests++;
            resolve();
          });
        },
      );
      request.on('socket', (socket) =>
        socket.once('secureConnect', () => {
          if ((socket as import('node:tls').TLSSocket).isSessionReused()) resumed++;
        }),
      );
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', () => {
        errors++;
        resolve();
      });
      request.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) await one();
    }),
  );
  if (agent) agent.destroy();
  return { requests, resumed, errors, seconds: (Date.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'keystore-tls-bench-'));
  const store = await createStore(adminUrl, workDir);
  try {
    const certificates = { 'RSA-2048': await makeBenchCertificate(workDir, 'rsa'), 'ECDSA P-256': await makeBenchCertificate(workDir) };
    console.log(
      `TLS handshakes: ${durationSeconds} s per run, concurrency ${concurrency}, Connection: close; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      '\n| certificate | workers | client | req/s | resumed | errors | keystore CPU ms/req | peak RSS MiB |\n|---|--:|---|--:|--:|--:|--:|--:|',
    );
    for (const workers of workerCounts) {
      for (const [name, certificate] of Object.entries(certificates)) {
        const keystore = await startKeystore({ ...store.env, WORKERS: String(workers), LOG_LEVEL: 'warn' }, certificate);
        try {
          for (const resume of name === 'RSA-2048' ? [false] : [false, true]) {
            await drive(keystore.httpsUrl!, resume); // warm-up (JIT, the cached 404)
            const sampler = new ProcessSampler(() => processTree(keystore.pid));
            await sampler.start();
            const r = await drive(keystore.httpsUrl!, resume);
            const usage = await sampler.stop();
            const perRequest = r.requests > 0 ? (1000 * usage.cpuSeconds) / r.requests : 0;
            console.log(
              `| ${name} | ${workers} | ${resume ? 'resumes sessions' : 'full handshakes'} | ${Math.round(r.requests / r.seconds)} | ` +
                `${r.requests > 0 ? Math.round((100 * r.resumed) / r.requests) : 0}% | ${r.errors} | ${perRequest.toFixed(2)} | ${(usage.peakRssBytes / 2 ** 20).toFixed(0)} |`,
            );
          }
        } finally {
          await keystore.stop();
        }
      }
    }
    console.log(
      `\nload average at the end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await store.close(false);
    await rm(workDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
