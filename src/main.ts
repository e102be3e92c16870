// Entry point: the one place that reads the environment. Commands: serve (default), migrate.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startServer } from './server.js';
import { openDatabase } from './store/database.js';
import { migrateToLatest } from './store/migrate.js';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'serve';
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`keystore: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const logger = pino({ level: config.LOG_LEVEL });
  const where = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PostgreSQL in ${config.DATA_DIR}`;

  if (command === 'migrate') {
    const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
    const results = await migrateToLatest(database.db);
    await database.close();
    for (const r of results) console.log(`${r.status === 'Success' ? 'applied' : r.status}: ${r.migrationName}`);
    console.log(`database is up to date (${where})`);
    return;
  }
  if (command !== 'serve') {
    console.error(`keystore: unknown command ${command} (commands: serve, migrate)`);
    process.exit(2);
  }
  const server = await startServer(config, logger, packageJson.version);
  logger.info({ url: server.url, database: server.database.kind }, `keystore ${packageJson.version} listening on ${config.HOST}:${server.port}, ${where}`);
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(`keystore: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
