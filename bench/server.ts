// The keystore under test, as the processes a user runs: `keystore import` to load the dataset and
// `keystore serve` to answer (node dist/src/main.js, built by `npm run build`).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ImportSummary } from '../src/services/importService.js';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MAIN = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));

/** What `keystore import --json` prints, plus the wall time including the process's start and migrations. */
export type ImportResult = Pick<
  ImportSummary,
  'files' | 'keys' | 'inserted' | 'updated' | 'unchanged' | 'rejected' | 'failed' | 'reasons' | 'seconds' | 'keysPerSecond'
> & { maxRssBytes: number; wallSeconds: number };

/** Runs `keystore import --json FILES` against the store and returns its summary. */
export async function importKeys(env: Record<string, string>, files: string[]): Promise<ImportResult> {
  const started = Date.now();
  const { stdout, stderr, code } = await run(process.execPath, [MAIN, 'import', '--json', ...files], { ...env, LOG_LEVEL: 'warn' });
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`keystore import failed (exit ${code}):\n${stderr.slice(-2000)}${stdout.slice(-2000)}`);
  const summary = JSON.parse(line) as Omit<ImportResult, 'wallSeconds'>;
  return { ...summary, wallSeconds: (Date.now() - started) / 1000 };
}

/** Builds dist/ (npm run build). */
export async function build(): Promise<void> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const { code, stdout, stderr } = await run(npm, ['run', 'build', '--silent'], {});
  if (code !== 0) throw new Error(`npm run build failed:\n${stdout}${stderr}`);
}

export interface RunningKeystore {
  url: string;
  /** With `https`: its HTTPS listener (TLS_CERT_FILE, TLS_KEY_FILE). */
  httpsUrl: string | undefined;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `keystore serve` on a free loopback port without rate limits, logging as in production (one line per
 * request, to /dev/null), and waits until /pks/health answers 200.
 */
export async function startKeystore(env: Record<string, string>, https?: { certFile: string; keyFile: string }): Promise<RunningKeystore> {
  const port = await freePort();
  const httpsPort = https ? await freePort() : undefined;
  const tlsEnv: Record<string, string> = https ? { TLS_CERT_FILE: https.certFile, TLS_KEY_FILE: https.keyFile, HTTPS_PORT: String(httpsPort) } : {};
  // As `npm start` and the Docker image start it (docs/operations.md "Memory"): V8's young generation and glibc's arenas capped.
  // BENCH_SERVER_NODE_ARGS: more node options for the server alone, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p" to profile it.
  const extraArgs = (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, ['--max-semi-space-size=4', '--heap-growing-percent=25', ...extraArgs, MAIN, 'serve'], {
    cwd: ROOT,
    env: {
      MALLOC_ARENA_MAX: '2',
      ...process.env,
      ...env,
      ...tlsEnv,
      PORT: String(port),
      HOST: '127.0.0.1',
      RATE_LIMIT: 'off',
      LOG_LEVEL: 'info',
      METRICS_PORT: '',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await Promise.race([healthStatus(url), exited.then(() => 'exited' as const)]);
    if (status === 200) break;
    if (status === 'exited' || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`keystore serve did not start:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, httpsUrl: httpsPort ? `https://127.0.0.1:${httpsPort}` : undefined, pid: child.pid!, stop: () => stop(child, exited) };
}

async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function healthStatus(url: string): Promise<number | null> {
  try {
    const response = await fetch(`${url}/pks/health`, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs a command in the project folder and collects its output. */
export function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
