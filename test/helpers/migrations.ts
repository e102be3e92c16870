// For tests of one migration: the migrations folder as a Migrator, and a fresh database per test on a backend.
import { readdirSync } from 'node:fs';
import { Migrator, type Kysely, type Migration } from 'kysely';
import { afterEach } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { createTestDatabase, type Backend, type TestDatabase } from './server.js';

const FOLDER = new URL('../../migrations/', import.meta.url);

/** Every migration of migrations/ by name, in order, and a Migrator over them. */
export async function folderMigrator(db: Kysely<unknown>): Promise<{ migrator: Migrator; names: string[] }> {
  const migrations: Record<string, Migration> = {};
  for (const file of readdirSync(FOLDER)
    .filter((f) => f.endsWith('.ts'))
    .sort()) {
    migrations[file.replace(/\.ts$/, '')] = (await import(new URL(file, FOLDER).href)) as Migration;
  }
  return { migrator: new Migrator({ db, provider: { getMigrations: async () => migrations } }), names: Object.keys(migrations) };
}

export function ok(result: { error?: unknown }): void {
  if (result.error) throw result.error instanceof Error ? result.error : new Error(String(result.error));
}

/** Call inside a describe: `open()` gives a new empty database on `backend`, closed and dropped after each test. */
export function freshDatabases(backend: Backend): { open(): Promise<Kysely<unknown>> } {
  let database: TestDatabase | undefined;
  let handle: DatabaseHandle | undefined;
  afterEach(async () => {
    await handle?.close();
    await database?.drop();
    handle = undefined;
    database = undefined;
  });
  return {
    async open() {
      database = await createTestDatabase(backend);
      handle = await openDatabase({ url: database.url, dataDir: 'memory://', poolSize: 2 });
      return handle.db as unknown as Kysely<unknown>;
    },
  };
}
