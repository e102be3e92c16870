// keystore stats: key counts and recent changes, as op=stats reports them.
import type { Command } from 'commander';
import { StatsRepository } from '../store/statsRepository.js';
import { openMigratedDatabase, type CliContext } from './context.js';

export function registerStats(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .description('print key counts and recent changes')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const database = await openMigratedDatabase(ctx, 'stats');
      try {
        const stats = await new StatsRepository(database.db).stats();
        if (options.json) {
          ctx.print(JSON.stringify(stats));
          return;
        }
        ctx.print(`keys: ${stats.totalKeys}`);
        ctx.print(`last 24 hours: ${stats.last24h.inserted} inserted, ${stats.last24h.updated} updated`);
        ctx.print(`last 7 days: ${stats.last7d.inserted} inserted, ${stats.last7d.updated} updated`);
      } finally {
        await database.close();
      }
    });
}
