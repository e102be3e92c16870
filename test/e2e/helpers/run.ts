// Runs external client programs (gpg, sq, curl) with a timeout, capturing exit code, stdout and stderr.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Backend } from '../../helpers/server.js';

const execFileAsync = promisify(execFile);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the program's standard input, which is then closed. */
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs a program; never throws for a non-zero exit (check `code`), only for a program that cannot start or times out. */
export async function run(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const promise = execFileAsync(file, args, {
    timeout: options.timeoutMs ?? 45_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C', LANG: 'C', ...(options.env ?? {}) },
  });
  const stdin = promise.child.stdin;
  if (stdin) {
    stdin.on('error', () => {}); // the program may exit before reading its input
    stdin.end(options.input ?? '');
  }
  try {
    const { stdout, stderr } = await promise;
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { code?: number | string; stdout?: string; stderr?: string; killed?: boolean; signal?: string };
    if (err.killed || err.signal) {
      throw new Error(`${file} ${args.join(' ')} was killed (${err.signal ?? 'timeout'})\nstdout: ${err.stdout ?? ''}\nstderr: ${err.stderr ?? ''}`);
    }
    if (typeof err.code !== 'number') throw e;
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Like run, but throws with the program's output when it exits non-zero. */
export async function runOk(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(file, args, options);
  if (result.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return result;
}

/** The one store each end-to-end file runs against: PostgreSQL when TEST_DATABASE_URL is set, else PGlite. */
export const e2eBackend: Backend = process.env['TEST_DATABASE_URL'] ? 'postgresql' : 'pglite';

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * What the server answers to the request a client made, for failure messages: clients such as sq and gpg
 * print only "Error communicating with server" or "No data", so the test replays the request with fetch.
 */
export async function serverAnswer(baseUrl: string, path: string, init: { method?: string; keytext?: string } = {}): Promise<string> {
  try {
    const res = await fetch(
      new URL(path, baseUrl),
      init.keytext === undefined
        ? { method: init.method ?? 'GET' }
        : {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ keytext: init.keytext }).toString(),
          },
    );
    const text = await res.text();
    return `${init.keytext === undefined ? (init.method ?? 'GET') : 'POST'} ${path} -> ${res.status} ${res.headers.get('content-type') ?? ''}\n${text.slice(0, 600)}`;
  } catch (e) {
    return `${path} -> ${String(e)}`;
  }
}
