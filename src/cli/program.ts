// The keystore command line: `keystore --help` lists every command.
import { Command } from 'commander';
import type { CliContext } from './context.js';
import { registerMigrate } from './migrate.js';
import { registerServe } from './serve.js';
import { registerStats } from './stats.js';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('keystore')
    .description('OpenPGP HKP keyserver over PostgreSQL')
    .version(ctx.version)
    .showHelpAfterError();
  registerServe(program, ctx);
  registerMigrate(program, ctx);
  registerStats(program, ctx);
  return program;
}
