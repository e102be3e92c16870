// What every command gets from main.ts: settings (validated on first use), a logger, output, the version.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../store/database.js';
import { openMigratedDatabase as openMigrated } from '../store/migrate.js';

export interface CliContext {
  /** Validated settings; throws ConfigError naming the bad variable. */
  config(): Config;
  logger(): Logger;
  version: string;
  /** Standard output (results); diagnostics go to the logger or stderr. */
  print(line: string): void;
  /** Standard error, for progress and warnings meant for a person. */
  warn(line: string): void;
  /** True when standard error is a terminal (progress bars). */
  interactive: boolean;
  /** On a terminal: replaces the one status line on standard error ('' clears it). */
  status?(line: string): void;
}

/**
 * Opens the configured database and brings its schema up to date. An embedded database served by a running
 * `keystore serve` is reached through it; `command` names this one in the folder's lock otherwise.
 */
export async function openMigratedDatabase(ctx: CliContext, command: string): Promise<DatabaseHandle> {
  const config = ctx.config();
  return openMigrated({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DB_POOL_SIZE, command });
}
