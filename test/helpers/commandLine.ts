// Runs the real `keystore` command line (tsx on the sources) in a child process, as an administrator would.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from '../e2e/helpers/run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** Runs `keystore ARGS...` to its end; `env` names the database (DATA_DIR or DATABASE_URL). */
export function keystore(args: string[], env: Record<string, string>, input?: string): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { LOG_LEVEL: 'silent', ...env },
    timeoutMs: 90_000,
    ...(input === undefined ? {} : { input }),
  });
}

/** Starts `keystore ARGS...` and leaves it running (standard input a pipe), for tests that stop or kill it. */
export function spawnKeystore(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
