// keystore serve: run the HKP server until SIGTERM/SIGINT, then stop gracefully and exit 0. With WORKERS > 1 (on
// PostgreSQL) every cluster worker runs this command; the primary is started by main.ts (src/cluster.ts).
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { connectToPrimary, workerCount, workerPoolSize, type PrimaryLink } from '../cluster.js';
import type { Config } from '../config.js';
import type { CliContext } from './context.js';

export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve', { isDefault: true })
    .description('run the HKP server (what npm start runs)')
    .action(async () => {
      const config = ctx.config();
      const logger = ctx.logger();
      const workers = workerCount(config, availableParallelism());
      const exitCode = cluster.isWorker
        ? // Connections and cache memory are the whole server's: each worker gets its share.
          await serve(
            {
              ...config,
              DB_POOL_SIZE: workerPoolSize(config.DB_POOL_SIZE, workers),
              LOOKUP_CACHE_BYTES: Math.floor(config.LOOKUP_CACHE_BYTES / workers),
            },
            logger.child({ worker: cluster.worker!.id }),
            ctx.version,
            connectToPrimary(),
          )
        : // With WORKERS > 1 the primary never gets here: main.ts starts it before the commands are loaded.
          await serve(config, logger, ctx.version);
      // Listeners and database are closed; exit now rather than wait on any handle a library left open.
      process.exit(exitCode);
    });
}

/** Runs one server until stopped; resolves to the exit code. `primary` is set in a cluster worker. */
async function serve(config: Config, logger: Logger, version: string, primary?: PrimaryLink): Promise<number> {
  // Loaded here, not at the top: a cluster's primary never serves, and stays small without the server's modules.
  const { startServer } = await import('../server.js');
  // In a cluster every worker resumes the TLS sessions of the others (docs/https.md "Handshake cost").
  const ticketKeys = primary && config.TLS_CERT_FILE !== undefined ? await primary.ticketKeys() : undefined;
  const server = await startServer(config, logger, version, { clusterMetrics: primary?.metrics, tlsTicketKeys: ticketKeys });
  primary?.onTicketKeys((keys) => server.setTicketKeys(keys));
  const where = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PostgreSQL in ${config.DATA_DIR}`;
  const ports = [
    config.PORT === 'off' ? '' : `${config.HOST}:${server.port}`,
    server.httpsPort === undefined ? '' : `https on ${config.HOST}:${server.httpsPort}`,
  ]
    .filter(Boolean)
    .join(' and ');
  // A worker's start is logged by the primary, once per worker.
  if (primary) primary.ready(server.url, server.httpsUrl);
  else
    logger.info(
      { url: server.url, httpsUrl: server.httpsUrl, database: server.database.kind },
      `keystore ${version} listening on ${ports}, ${where}`,
    );
  // SIGHUP: read the certificate files again (node's default for SIGHUP would end the process).
  if (server.httpsUrl !== undefined) {
    const reload = () => void server.reloadCertificates('SIGHUP');
    process.on('SIGHUP', reload);
    primary?.onReload(reload);
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    let signals = 0;
    // `passedOn`: the primary passing a signal on. It never counts as a second signal: a Ctrl-C (or systemd's
    // SIGTERM) reaches every process of the group, so a worker usually gets the same signal twice that way.
    const shutdown = (signal: NodeJS.Signals, passedOn = false) => {
      if (!passedOn && ++signals > 1) {
        // A second signal (Ctrl-C twice): give up on the requests in flight.
        logger.warn({ signal }, 'second signal: exiting without waiting');
        resolve(1);
        return;
      }
      if (stopping) return;
      stopping = true;
      const closed = server.close(); // the listening sockets are closed when it returns
      logger.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: no new connections, finishing requests in flight');
      closed.then(
        () => {
          logger.info('stopped');
          resolve(0);
        },
        (e: unknown) => {
          logger.error({ err: e instanceof Error ? e.message : String(e) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    primary?.onStop((signal) => shutdown(signal, true));
  });
}
