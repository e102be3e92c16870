// The DATA_DIR lock: one holder; a lock whose process is gone, or whose pid now belongs to another process, is stale.
import { spawnSync } from 'node:child_process';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimDataDir, LOCK_NAME, processStartTime, readLiveHolder, type DataDirLock, type LockHolder } from '../../src/store/dataDirLock.js';
import { tempDir } from '../e2e/helpers/run.js';

function isLock(claim: DataDirLock | LockHolder): claim is DataDirLock {
  return 'release' in claim;
}

/** The pid of a process that has ended. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('the DATA_DIR lock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir('keystore-lock-');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has one holder at a time, named to the others, and is free again once released', async () => {
    const first = await claimDataDir(join(dir, 'data'), 'serve');
    expect(isLock(first)).toBe(true);
    const second = await claimDataDir(join(dir, 'data'), 'import');
    expect(isLock(second)).toBe(false);
    expect(second).toMatchObject({ pid: process.pid, command: 'serve', socketDir: null });
    await (first as DataDirLock).setSocketDir('/some/where');
    expect(await readLiveHolder(join(dir, 'data'))).toMatchObject({ command: 'serve', socketDir: '/some/where' });
    await (first as DataDirLock).release();
    expect(await readLiveHolder(join(dir, 'data'))).toBeNull();
    const third = await claimDataDir(join(dir, 'data'), 'import');
    expect(isLock(third)).toBe(true);
    await (third as DataDirLock).release();
    expect(await readdir(join(dir, 'data'))).toEqual([]); // no temporary files left either
  });

  it('takes over a lock whose process is gone (kill -9 leaves it behind)', async () => {
    const pid = deadPid();
    expect(pid).toBeGreaterThan(0);
    await writeFile(join(dir, LOCK_NAME), JSON.stringify({ pid, started: null, command: 'serve', socketDir: dir, since: '', nonce: 'old' }));
    expect(await readLiveHolder(dir)).toBeNull();
    const claim = await claimDataDir(dir, 'serve');
    expect(isLock(claim)).toBe(true);
    expect(JSON.parse(await readFile(join(dir, LOCK_NAME), 'utf8'))).toMatchObject({ pid: process.pid, command: 'serve', socketDir: null });
    await (claim as DataDirLock).release();
  });

  it('takes over a lock naming a live pid that started at another time (a pid reused, a container restarted)', async () => {
    const started = processStartTime(process.pid);
    if (started === null) return expect(process.platform).not.toBe('linux');
    await writeFile(
      join(dir, LOCK_NAME),
      JSON.stringify({ pid: process.pid, started: String(Number(started) - 1), command: 'serve', socketDir: null, since: '', nonce: 'old' }),
    );
    const claim = await claimDataDir(dir, 'serve');
    expect(isLock(claim)).toBe(true);
    await (claim as DataDirLock).release();
  });

  it('takes over an unreadable lock, and does not take a live one', async () => {
    await writeFile(join(dir, LOCK_NAME), 'not json');
    const claim = await claimDataDir(dir, 'token');
    expect(isLock(claim)).toBe(true);
    const other = await claimDataDir(dir, 'serve');
    expect(other).toMatchObject({ command: 'token', pid: process.pid });
    await (claim as DataDirLock).release();
  });
});
