// Entry point and the one place that reads the environment: settings, logger and output for the commands.
import cluster from 'node:cluster';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { pino, type Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';

// package.json is one level above src/main.ts (run with tsx) and two above dist/src/main.js (the build).
const packageJsonUrl = [new URL('../package.json', import.meta.url), new URL('../../package.json', import.meta.url)].find((url) => existsSync(url))!;
const packageJson = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version: string };

let config: Config | undefined;
let logger: Logger | undefined;
// Buffered log writes: a request's line must not cost a system call. Lines go out in blocks of 8 KB, and at least
// every LOG_FLUSH_MS, so a quiet server's lines still appear at once; what is pending is flushed at exit.
const LOG_FLUSH_MS = 250;
const logDestination = pino.destination({ dest: 1, sync: false, minLength: 8 * 1024 });
setInterval(() => logDestination.flush(), LOG_FLUSH_MS).unref();
process.on('exit', () => {
  try {
    logDestination.flushSync();
  } catch {
    // Nothing was pending, or stdout is gone.
  }
});

/** `keystore` or `keystore serve` (the default command) starting a cluster: this process is its primary. */
async function clusterPrimary(): Promise<boolean> {
  const args = process.argv.slice(2);
  if (!cluster.isPrimary || !(args.length === 0 || (args.length === 1 && args[0] === 'serve'))) return false;
  config ??= loadConfig(process.env);
  const { runPrimary, workerCount } = await import('./cluster.js');
  const workers = workerCount(config, availableParallelism());
  if (workers <= 1) return false;
  logger ??= pino({ level: config.LOG_LEVEL }, logDestination);
  // Bad certificate files stop the start here, with one message, rather than in every worker.
  if (config.TLS_CERT_FILE !== undefined && config.TLS_KEY_FILE !== undefined) {
    const { loadCertificatePair } = await import('./tls/certificates.js');
    await loadCertificatePair({ certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE });
  }
  // glibc gives each thread of a process its own malloc arena: two are plenty for a worker (measured: about 30 MB
  // less resident memory per worker). Read at a process's start, so it is set for the workers here.
  const workerEnv = { MALLOC_ARENA_MAX: process.env['MALLOC_ARENA_MAX'] ?? '2' };
  process.exit(await runPrimary({ config, logger, version: packageJson.version, workers, workerEnv }));
}

async function main(): Promise<void> {
  // The primary only supervises: it starts without loading the commands (the server, openpgp, kysely...).
  if (await clusterPrimary()) return;
  const { buildProgram } = await import('./cli/program.js');
  const program = buildProgram({
    version: packageJson.version,
    config: () => (config ??= loadConfig(process.env)),
    logger: () => (logger ??= pino({ level: (config ??= loadConfig(process.env)).LOG_LEVEL }, logDestination)),
    print: (line) => process.stdout.write(line + '\n'),
    warn: (line) => process.stderr.write(line + '\n'),
    interactive: process.stderr.isTTY === true,
    status: (line) => process.stderr.write(`\r\x1b[2K${line.slice(0, Math.max(0, (process.stderr.columns || 80) - 1))}`),
  });
  await program.parseAsync(process.argv);
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError) {
    console.error(`keystore: ${e.message}`);
    process.exit(2);
  }
  console.error(`keystore: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
