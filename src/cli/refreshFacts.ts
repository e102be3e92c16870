// keystore refresh-facts: fill in the key-page facts (capabilities, revocation reasons) of keys stored before
// they were derived at import (migration 20261203000005). Safe to run again, and while the server runs.
import type { Command } from 'commander';
import { refreshFacts } from '../services/factRefresh.js';
import { IdentifierFactsRepository } from '../store/identifierFacts.js';
import { openMigratedDatabase, type CliContext } from './context.js';

export function registerRefreshFacts(program: Command, ctx: CliContext): void {
  program
    .command('refresh-facts')
    .description("derive every stored key's capabilities and revocation reasons again from its packets (for keys stored by older versions)")
    .action(async () => {
      const database = await openMigratedDatabase(ctx, 'refresh-facts');
      try {
        const result = await refreshFacts(new IdentifierFactsRepository(database.db), (keys) => ctx.status?.(`${keys} keys`));
        ctx.status?.('');
        ctx.print(`refreshed ${result.keys} keys${result.failed > 0 ? `, ${result.failed} could not be read` : ''}`);
      } finally {
        await database.close();
      }
    });
}
