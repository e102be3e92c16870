// A fresh, empty store for one benchmark run: a new database on the PostgreSQL server of DATABASE_URL
// (created through that admin connection, dropped at the end), or PGlite in a temporary folder.
import { randomBytes } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export interface Store {
  kind: 'postgresql' | 'pglite';
  /** Environment for `keystore import` and `keystore serve`: DATABASE_URL or DATA_DIR. */
  env: Record<string, string>;
  /** e.g. "PostgreSQL 15.20, database keystore_bench_1a2b3c" or "PGlite in /tmp/...". */
  description: string;
  /** Bytes on disk: pg_database_size, or the PGlite folder's size. */
  size(): Promise<number>;
  /** PostgreSQL backends serving this database (their CPU is the database's share); none for PGlite. */
  backendPids(): Promise<number[]>;
  /**
   * After the import, what a production database gets from autovacuum and its checkpoints (this machine's
   * PostgreSQL runs with autovacuum off): VACUUM (ANALYZE) and a CHECKPOINT, so that the first runs do not pay
   * for hint bits, missing statistics or a checkpoint writing the import out. What was done, for the report.
   */
  settle(): Promise<string>;
  /** Drops the database or removes the folder, unless kept. */
  close(keep: boolean): Promise<void>;
}

export async function createStore(adminUrl: string | undefined, workDir: string): Promise<Store> {
  return adminUrl ? createPostgresStore(adminUrl) : createPgliteStore(path.join(workDir, 'pglite'));
}

async function createPostgresStore(adminUrl: string): Promise<Store> {
  const name = `keystore_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  let version: string;
  try {
    version = (await admin.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
    await admin.query(`create database ${name}`);
  } catch (e) {
    await admin.end();
    throw e;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'postgresql',
    env: { DATABASE_URL: url.toString() },
    description: `PostgreSQL ${version.split(' ')[0]}, database ${name}`,
    size: async () => Number((await admin.query<{ size: string }>('select pg_database_size($1) as size', [name])).rows[0]!.size),
    settle: async () => {
      const db = new pg.Client({ connectionString: url.toString() });
      await db.connect();
      try {
        await db.query('vacuum (analyze)');
        await db.query('checkpoint');
      } finally {
        await db.end();
      }
      return 'vacuumed and analysed, then a checkpoint';
    },
    backendPids: async () =>
      (await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [name])).rows.map((r) => r.pid),
    close: async (keep) => {
      try {
        if (!keep) await admin.query(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

async function createPgliteStore(dir: string): Promise<Store> {
  return {
    kind: 'pglite',
    env: { DATA_DIR: dir },
    description: `PGlite in ${dir}`,
    size: () => folderSize(dir),
    // The server's PGlite is its own until it stops; it is left as the import wrote it.
    settle: async () => 'left as imported (PGlite)',
    backendPids: async () => [],
    close: async (keep) => {
      if (!keep) await rm(dir, { recursive: true, force: true });
    },
  };
}

async function folderSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await folderSize(full);
    else if (entry.isFile()) total += (await stat(full)).size;
  }
  return total;
}
