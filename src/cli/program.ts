// The keystore command line: `keystore --help` lists every command.
import { Command } from 'commander';
import type { CliContext } from './context.js';
import { registerExport } from './export.js';
import { registerImport } from './import.js';
import { registerMigrate } from './migrate.js';
import { registerRefreshFacts } from './refreshFacts.js';
import { registerServe } from './serve.js';
import { registerStats } from './stats.js';
import { registerAudit } from './audit.js';
import { registerToken } from './token.js';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('keystore').description('OpenPGP HKP keyserver over PostgreSQL').version(ctx.version).showHelpAfterError();
  registerServe(program, ctx);
  registerMigrate(program, ctx);
  registerStats(program, ctx);
  registerImport(program, ctx);
  registerExport(program, ctx);
  registerToken(program, ctx);
  registerAudit(program, ctx);
  registerRefreshFacts(program, ctx);
  return program;
}
