// keystore serve: run the HKP server until SIGTERM/SIGINT.
import type { Command } from 'commander';
import { startServer } from '../server.js';
import type { CliContext } from './context.js';

export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve', { isDefault: true })
    .description('run the HKP server (what npm start runs)')
    .action(async () => {
      const config = ctx.config();
      const logger = ctx.logger();
      const server = await startServer(config, logger, ctx.version);
      const where = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PostgreSQL in ${config.DATA_DIR}`;
      logger.info({ url: server.url, database: server.database.kind }, `keystore ${ctx.version} listening on ${config.HOST}:${server.port}, ${where}`);
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          logger.info({ signal }, 'shutting down');
          server.close().then(resolve, (e: unknown) => {
            logger.error({ err: e instanceof Error ? e.message : String(e) }, 'shutdown failed');
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
    });
}
