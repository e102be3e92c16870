// Builds a running keystore from explicit settings: database, migrations, services, HTTP listener.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createApp } from './http/app.js';
import { KeyService } from './services/keyService.js';
import { isDatabaseUnavailable, openDatabase, type DatabaseHandle } from './store/database.js';
import { KeyQueries } from './store/keyQueries.js';
import { KeyRepository } from './store/keyRepository.js';
import { StatsRepository } from './store/statsRepository.js';
import { LookupService } from './services/lookupService.js';
import { migrateToLatest } from './store/migrate.js';

export interface RunningServer {
  url: string;
  port: number;
  database: DatabaseHandle;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger, version: string): Promise<RunningServer> {
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DB_POOL_SIZE });
  try {
    await migrateToLatest(database.db);
  } catch (e) {
    await database.close();
    throw e;
  }
  const keys = new KeyService(new KeyRepository(database.db));
  const lookups = new LookupService(new KeyQueries(database.db), new StatsRepository(database.db), { maxResults: config.MAX_RESULTS, version });
  const app = createApp({ keys, lookups, logger, version, maxBodyBytes: config.MAX_BODY_BYTES, isUnavailable: isDatabaseUnavailable });
  const server = http.createServer(app.callback());
  server.listen(config.PORT, config.HOST);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  return {
    url: `http://${host}:${port}`,
    port,
    database,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await database.close();
    },
  };
}
