// keystore serve: run the HKP server until SIGTERM/SIGINT, then stop gracefully and exit 0.
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
      const exitCode = await new Promise<number>((resolve) => {
        let stopping = false;
        const shutdown = (signal: NodeJS.Signals) => {
          if (stopping) {
            // A second signal (Ctrl-C twice): give up on the requests in flight.
            logger.warn({ signal }, 'second signal: exiting without waiting');
            resolve(1);
            return;
          }
          stopping = true;
          const closed = server.close(); // the listening sockets are closed when it returns
          logger.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: no new connections, finishing requests in flight');
          closed.then(() => {
            logger.info('stopped');
            resolve(0);
          }, (e: unknown) => {
            logger.error({ err: e instanceof Error ? e.message : String(e) }, 'shutdown failed');
            resolve(1);
          });
        };
        process.on('SIGTERM', shutdown);
        process.on('SIGINT', shutdown);
      });
      // Listeners and database are closed; exit now rather than wait on any handle a library left open.
      process.exit(exitCode);
    });
}
