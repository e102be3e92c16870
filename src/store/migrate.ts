// Runs the timestamp-named migrations in migrations/ with Kysely's Migrator.
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { Migrator, type Kysely, type Migration, type MigrationProvider, type MigrationResult } from 'kysely';
import { openDatabase, type DatabaseHandle, type DatabaseOptions } from './database.js';

// From src/store (sources) or dist/src/store (build), migrations/ sits two levels up.
const DEFAULT_FOLDER = fileURLToPath(new URL('../../migrations/', import.meta.url));

class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of (await readdir(this.folder)).sort()) {
      const match = /^(.+)\.(ts|js)$/.exec(file);
      if (!match || file.endsWith('.d.ts')) continue;
      const module = (await import(pathToFileURL(path.join(this.folder, file)).href)) as Migration;
      migrations[match[1]!] = module;
    }
    return migrations;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
export async function migrateToLatest(db: Kysely<any>, folder = DEFAULT_FOLDER): Promise<MigrationResult[]> {
  const migrator = new Migrator({ db, provider: new FolderMigrationProvider(folder) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return results ?? [];
}

/** Opens the database and brings its schema up to date (closing it again if that fails). */
export async function openMigratedDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const database = await openDatabase(options);
  try {
    await migrateToLatest(database.db);
    // Standbys serve reads only once they have replayed the schema.
    database.wrote?.();
  } catch (e) {
    await database.close();
    throw e;
  }
  return database;
}
