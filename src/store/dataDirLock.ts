// The one owner of an embedded database folder (DATA_DIR): a lock file naming the process that has it open.
// A lock whose process is gone (killed, even with kill -9) is stale and taken over; a process is recognised by its
// pid and, on Linux, its start time, so a pid reused by another process (a container restarted: pid 1 again)
// does not count as the owner.
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const LOCK_NAME = 'keystore.lock';

/** What the lock file says. */
export interface LockHolder {
  pid: number;
  /** The process's start time (Linux /proc/PID/stat, clock ticks since boot); null elsewhere. */
  started: string | null;
  /** The command holding the folder: `serve`, `import`, `token`... */
  command: string;
  /** Set once a server shares the database: the folder of its socket (node-postgres's `host`). */
  socketDir: string | null;
  since: string;
  /** Tells this lock from any other with the same pid. */
  nonce: string;
}

/** The folder is another live process's: the message names the folder, who has it and what to do. */
export class DataDirBusyError extends Error {
  constructor(
    message: string,
    readonly holder: LockHolder,
  ) {
    super(message);
  }
}

export interface DataDirLock {
  /** The folder, absolute. */
  dataDir: string;
  holder: LockHolder;
  /** Records the socket a server shares the database on. */
  setSocketDir(socketDir: string): Promise<void>;
  /** Removes the lock (only while it is still this one). */
  release(): Promise<void>;
}

/** The start time of a process, or null when it cannot be told (no such process, or no /proc). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses); starttime is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process a lock names still runs (and is the same process, not a reused pid). */
export function holderAlive(holder: LockHolder): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0 || !isAlive(holder.pid)) return false;
  const started = processStartTime(holder.pid);
  if (started !== null && holder.started !== null) return started === holder.started;
  // No start times to compare: our own pid in a lock we do not hold is a previous life's (a restarted container).
  return holder.pid !== process.pid;
}

function parseHolder(text: string): LockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.command !== 'string') return null;
    return {
      pid: value.pid,
      started: value.started ?? null,
      command: value.command,
      socketDir: value.socketDir ?? null,
      since: value.since ?? '',
      nonce: value.nonce ?? '',
    };
  } catch {
    return null;
  }
}

/** Who holds the folder now: null when nobody does (no lock, or a stale one). */
export async function readLiveHolder(dataDir: string): Promise<LockHolder | null> {
  const text = await readFile(path.join(path.resolve(dataDir), LOCK_NAME), 'utf8').catch(() => null);
  const holder = text === null ? null : parseHolder(text);
  return holder && holderAlive(holder) ? holder : null;
}

/**
 * Takes the folder for this process, or resolves to the live process holding it. A stale lock is removed.
 * The lock file is written whole under another name and linked into place, so it never exists half-written.
 */
export async function claimDataDir(dataDir: string, command: string): Promise<DataDirLock | LockHolder> {
  const dir = path.resolve(dataDir);
  await mkdir(dir, { recursive: true });
  const lockPath = path.join(dir, LOCK_NAME);
  const holder: LockHolder = {
    pid: process.pid,
    started: processStartTime(process.pid),
    command,
    socketDir: null,
    since: new Date().toISOString(),
    nonce: randomUUID(),
  };
  const write = async (target: string, value: LockHolder) => {
    const temporary = `${lockPath}.${value.nonce}.${process.pid}`;
    await writeFile(temporary, JSON.stringify(value) + '\n', { flag: 'w' });
    try {
      if (target === lockPath) await link(temporary, target);
      else await rename(temporary, lockPath);
    } finally {
      await unlink(temporary).catch(() => {});
    }
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await write(lockPath, holder);
      let current = holder;
      const isOurs = async () => parseHolder(await readFile(lockPath, 'utf8').catch(() => ''))?.nonce === holder.nonce;
      return {
        dataDir: dir,
        holder,
        async setSocketDir(socketDir) {
          current = { ...current, socketDir };
          if (await isOurs()) await write('replace', current);
        },
        async release() {
          if (await isOurs()) await unlink(lockPath).catch(() => {});
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const text = await readFile(lockPath, 'utf8').catch(() => null);
    if (text === null) continue; // removed meanwhile: try again
    const other = parseHolder(text);
    if (other && holderAlive(other)) return other;
    // Stale (its process is gone) or unreadable: only a lock whose process died can be left so. Remove it only
    // if it is still the one read, then race for the folder again.
    const again = await readFile(lockPath, 'utf8').catch(() => null);
    if (again === text) await unlink(lockPath).catch(() => {});
  }
  throw new Error(`cannot take the lock ${lockPath}: it keeps changing`);
}
