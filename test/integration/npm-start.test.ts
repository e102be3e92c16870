// `npm start`, as systemd, a supervisor or Docker without an init runs it: a signal sent to the npm process alone
// stops the server gracefully; and the Docker image's command run as PID 1 of its own PID namespace (as in a
// container: the kernel delivers only signals it has a handler for). Runs the built server (dist/, made by npm ci).
import { spawn } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../e2e/helpers/run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('npm start', () => {
  let dir: string;
  const serverPids: number[] = [];

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/src/main.js'))) throw new Error('dist/ is not built: run npm run build (npm ci does)');
    dir = await tempDir('keystore-npm-start-');
  });
  afterAll(async () => {
    for (const pid of serverPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'stops the server gracefully on %s sent to the npm process alone',
    async (signal) => {
      // --ignore-scripts skips prestart's build (dist/ is built already); the start script runs as it is.
      await stopsOn(signal, 'npm', ['start', '--ignore-scripts'], join(dir, signal));
    },
    120_000,
  );

  // The image's CMD, from the Dockerfile itself, as PID 1 (unshare needs root, as CI has; skipped otherwise).
  const canUnshare = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;
  it.skipIf(!canUnshare)(
    "stops the Docker image's command, run as PID 1, gracefully on SIGTERM",
    async () => {
      const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
      const [file, ...args] = JSON.parse(cmd!) as string[];
      await stopsOn('SIGTERM', 'unshare', ['--pid', '--fork', '--mount-proc', file!, ...args], join(dir, 'docker'), 1);
    },
    120_000,
  );

  /** Starts `file args`, which runs the server as a child (or deeper), signals `file` alone, and checks the stop. */
  async function stopsOn(signal: NodeJS.Signals, file: string, args: string[], dataDir: string, pidInside?: number) {
    const port = await freePort();
    const parent = spawn(file, args, {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const parentExited = new Promise<void>((resolve) => parent.on('exit', () => resolve()));
    let output = '';
    const lines: Record<string, unknown>[] = [];
    const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file} did not listen within 90 s\n${output}`)), 90_000);
      parent.stdout!.setEncoding('utf8').on('data', (text: string) => {
        output += text;
        for (const line of text.split('\n')) {
          if (!line.startsWith('{')) continue;
          const parsed = JSON.parse(line) as Record<string, unknown>;
          lines.push(parsed);
          if (typeof parsed['url'] === 'string') {
            clearTimeout(timer);
            resolve(parsed);
          }
        }
      });
      parent.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
    });
    const started = await listening;
    if (pidInside !== undefined) expect(started['pid']).toBe(pidInside);
    // The server's pid as seen from here: the logged one, or (in its own PID namespace) the child of `file`.
    const serverPid =
      pidInside === undefined ? (started['pid'] as number) : Number(readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim());
    serverPids.push(serverPid);
    expect(serverPid).not.toBe(parent.pid); // the signal goes to the parent, not to the server
    expect(await refused(port)).toBe(false);

    if (pidInside === undefined) process.kill(parent.pid!, signal);
    else process.kill(serverPid, signal); // what docker stop does: the signal to the container's PID 1
    await parentExited;
    const deadline = Date.now() + 15_000;
    while (alive(serverPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(serverPid), `the server (pid ${serverPid}) outlived ${file}\n${output}`).toBe(false);
    expect(await refused(port)).toBe(true);
    expect(lines.find((l) => l['msg'] === 'shutting down: no new connections, finishing requests in flight')).toMatchObject({ signal });
    expect(lines.some((l) => l['msg'] === 'stopped')).toBe(true);
  }
});
