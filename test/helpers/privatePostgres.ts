// A throw-away PostgreSQL cluster of the Debian binaries, in a temporary folder on its own port, that a test
// can stop and start (as .ci/run starts one). Run as the postgres user when the tests run as root.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const PG_ROOT = '/usr/lib/postgresql';

/** The bin folder of the newest installed PostgreSQL with initdb and pg_ctl, or undefined. */
export function postgresBinaries(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(PG_ROOT, v, 'bin')).find((bin) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl')));
}

export interface PrivatePostgres {
  url: string;
  port: number;
  start(): Promise<void>;
  /** pg_ctl stop -m fast: connections are terminated, new ones refused. */
  stop(): Promise<void>;
  /** Stops the cluster (if running) and deletes its folder. */
  destroy(): Promise<void>;
}

/** A cluster's folder, port and pg_ctl commands, run as the postgres user when the tests run as root. */
async function clusterIn(bin: string, prefix: string, firstPort: number, timeoutMs: number, startOptions = '') {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const asRoot = process.getuid?.() === 0;
  const run = async (command: string) => {
    const [file, args] = asRoot ? ['su', ['postgres', '-s', '/bin/sh', '-c', command]] : ['/bin/sh', ['-c', command]];
    await execFileAsync(file, args as string[], { timeout: timeoutMs });
  };
  const data = join(dir, 'data');
  const port = await freePort(firstPort);
  const start = () =>
    run(`${bin}/pg_ctl -D ${data} -o '-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${startOptions}' -l ${dir}/log -w start >/dev/null`);
  const stop = () => run(`${bin}/pg_ctl -D ${data} -m fast -w stop >/dev/null`);
  const destroy = async () => {
    await stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  const cluster: PrivatePostgres = { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, start, stop, destroy };
  return { dir, data, run, cluster, ownDir: async () => (asRoot ? chown(dir, ...(await postgresIds())) : undefined) };
}

export async function createPrivatePostgres(bin: string, firstPort = 55440): Promise<PrivatePostgres> {
  const { data, run, cluster, ownDir } = await clusterIn(bin, 'keystore-pg-', firstPort, 60_000);
  await ownDir();
  await run(`${bin}/initdb -D ${data} -U postgres --auth=trust >/dev/null`);
  await cluster.start();
  return cluster;
}

/**
 * A hot standby of `primary` (pg_basebackup -R: streaming replication from it) in a folder of its own on its own
 * port, started. The primary's default pg_hba (initdb) lets loopback replication in with trust. Each step is
 * bounded by `timeoutMs`; when one fails, the folder is removed. (npm run bench makes its standby with it too.)
 */
export async function createPrivateStandby(
  bin: string,
  primary: Pick<PrivatePostgres, 'port'>,
  firstPort = 55540,
  timeoutMs = 60_000,
): Promise<PrivatePostgres> {
  const { data, run, cluster, ownDir } = await clusterIn(bin, 'keystore-pg-standby-', firstPort, timeoutMs, ' -c hot_standby=on');
  try {
    await ownDir();
    await run(`${bin}/pg_basebackup -h 127.0.0.1 -p ${primary.port} -U postgres -D ${data} -R -X stream -c fast`);
    // A primary set up as Debian's clusters are keeps postgresql.conf and pg_hba.conf in /etc, out of the copy:
    // the standby then runs on the defaults (its port and socket are given at start) and trusts loopback.
    await run(
      `test -f ${data}/postgresql.conf || { : > ${data}/postgresql.conf && printf 'local all all trust\\nhost all all 127.0.0.1/32 trust\\n' > ${data}/pg_hba.conf; }`,
    );
    await cluster.start();
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
  return cluster;
}

async function postgresIds(): Promise<[number, number]> {
  const { stdout: uid } = await execFileAsync('id', ['-u', 'postgres']);
  const { stdout: gid } = await execFileAsync('id', ['-g', 'postgres']);
  return [Number(uid.trim()), Number(gid.trim())];
}

/** The first port from `from` on that nothing listens on at 127.0.0.1. */
async function freePort(from: number): Promise<number> {
  for (let port = from; port < from + 100; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}..${from + 99}`);
}
