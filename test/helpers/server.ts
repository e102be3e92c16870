// Starts the real server on a free port against a fresh, migrated database: PGlite in memory, or a
// new database on the PostgreSQL named by TEST_DATABASE_URL.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';

export type Backend = 'pglite' | 'postgresql';

/** Every store the suite runs against: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export const backends: Backend[] = process.env['TEST_DATABASE_URL'] ? ['pglite', 'postgresql'] : ['pglite'];

export interface TestServer extends RunningServer {
  backend: Backend;
}

export interface TestDatabase {
  /** Connection string of a new, empty PostgreSQL database; undefined for PGlite (in memory). */
  url: string | undefined;
  drop(): Promise<void>;
}

/** A new empty database on TEST_DATABASE_URL's server, or nothing to create for PGlite. */
export async function createTestDatabase(backend: Backend): Promise<TestDatabase> {
  if (backend !== 'postgresql') return { url: undefined, drop: async () => {} };
  const adminUrl = process.env['TEST_DATABASE_URL']!;
  const name = `keystore_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(adminUrl, `drop database if exists ${name} with (force)`) };
}

export async function startTestServer(
  backend: Backend,
  env: Record<string, string> = {},
  logger: Logger = pino({ level: 'silent' }),
): Promise<TestServer> {
  const database = await createTestDatabase(backend);
  const databaseUrl = database.url;
  const dropDatabase = database.drop;
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: 'memory://',
    // Tests push and fetch far faster than any client; the rate-limit tests turn it on.
    RATE_LIMIT: 'off',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...env,
  });
  const server = await startServer(config, logger, 'test');
  return {
    ...server,
    backend,
    async close() {
      await server.close();
      await dropDatabase();
    },
  };
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A logger keeping every line it writes, parsed, to check what the server logs. */
export function capturingLogger(lines: Record<string, unknown>[]): Logger {
  return pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
}
