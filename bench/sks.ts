// SKS side by side, started by the bench: bench/sks/start.sh builds Debian's `sks` from a keydump of the
// dataset in a folder the bench owns (timing `sks build`, `cleandb` and `pbuild`) and starts `sks db` on a free
// loopback port; stop() ends it and removes the folder. See bench/sks/README.md.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './server.js';

const START = fileURLToPath(new URL('./sks/start.sh', import.meta.url));
const SKS = ['/usr/sbin/sks', '/usr/bin/sks'].find((p) => existsSync(p));

export function sksInstalled(): boolean {
  return SKS !== undefined;
}

/** "1.1.6+" from `sks version`, or null. */
export function sksVersion(): string | null {
  try {
    return /SKS version (\S+)/.exec(execFileSync(SKS ?? 'sks', ['version'], { encoding: 'utf8', timeout: 10_000 }))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Wall seconds of each step of building an SKS database from a keydump, as start.sh prints them. */
export interface SksBuildTimes {
  build: number;
  cleandb: number;
  pbuild: number;
  /** build + cleandb + pbuild. */
  total: number;
}

/** The KEY=VALUE lines start.sh prints on standard output. */
export function parseStartOutput(stdout: string): { build: SksBuildTimes | null; url: string | null; pids: number[] } {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^(SKS_[A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) values.set(m[1]!, m[2]!);
  }
  const seconds = (name: string) => {
    const v = Number(values.get(`SKS_${name}_SECONDS`));
    return values.has(`SKS_${name}_SECONDS`) && Number.isFinite(v) ? v : null;
  };
  const [build, cleandb, pbuild] = [seconds('BUILD'), seconds('CLEANDB'), seconds('PBUILD')];
  return {
    build: build !== null && cleandb !== null && pbuild !== null ? { build, cleandb, pbuild, total: build + cleandb + pbuild } : null,
    url: values.get('SKS_URL') ?? null,
    pids: (values.get('SKS_PIDS') ?? '').split(',').filter(Boolean).map(Number),
  };
}

export interface SksInstance {
  /** Empty when only built (buildOnly). */
  url: string;
  /** `sks db` (the HKP server). */
  pids: number[];
  build: SksBuildTimes;
  /** Stops SKS (if started) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Builds SKS from the *.pgp files of `dumpDir` (no recon) in a new folder and, unless buildOnly, starts `sks db`
 * on a free loopback port. `register` gets the stop function before anything runs, so that an error or Ctrl-C
 * during the build still removes the folder.
 */
export async function startSks(
  dumpDir: string,
  options: { buildOnly: boolean; register: (stop: () => Promise<void>) => void },
): Promise<SksInstance> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sks-bench-'));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const pids = await readFile(path.join(dir, 'pids'), 'utf8').then(
      (s) => s.trim().split(',').filter(Boolean).map(Number),
      () => [],
    );
    await Promise.all(pids.map(stopProcess));
    await rm(dir, { recursive: true, force: true });
  };
  options.register(stop);
  const port = await freePort();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('bash', [START, dumpDir, String(port)], {
      env: { ...process.env, SKS_BASE: dir, NO_RECON: '1', BUILD_ONLY: options.buildOnly ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
  });
  const parsed = parseStartOutput(stdout);
  if (code !== 0 || !parsed.build || (!options.buildOnly && (!parsed.url || parsed.pids.length === 0))) {
    await stop();
    throw new Error(`bench/sks/start.sh failed (exit ${code}):\n${stderr}`);
  }
  return { url: parsed.url ?? '', pids: parsed.pids, build: parsed.build, stop };
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone (or a zombie: its parent exited). */
async function stopProcess(pid: number): Promise<void> {
  const alive = async () => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    return stat !== null && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  };
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // gone meanwhile
    }
  };
  if (!(await alive())) return;
  signal('SIGTERM');
  const deadline = Date.now() + 10_000;
  while (await alive()) {
    if (Date.now() > deadline + 5_000) return;
    if (Date.now() > deadline) signal('SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
  }
}
