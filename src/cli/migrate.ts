// keystore migrate: apply the migrations in migrations/ and exit.
import type { Command } from 'commander';
import { openDatabase } from '../store/database.js';
import { migrateToLatest } from '../store/migrate.js';
import type { CliContext } from './context.js';

export function registerMigrate(program: Command, ctx: CliContext): void {
  program
    .command('migrate')
    .description('bring the database schema up to date')
    .action(async () => {
      const config = ctx.config();
      const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, command: 'migrate' });
      try {
        const results = await migrateToLatest(database.db);
        for (const r of results) ctx.print(`${r.status === 'Success' ? 'applied' : r.status}: ${r.migrationName}`);
        ctx.print(`database is up to date (${config.DATABASE_URL ? 'PostgreSQL' : `embedded, ${config.DATA_DIR}`})`);
      } finally {
        await database.close();
      }
    });
}
