// The embedded database (PGlite in DATA_DIR) has one owner: the process holding the folder's lock. `keystore serve`
// takes it and shares the database over a socket in the folder; a command finding the folder served goes through
// that socket (node-postgres), and otherwise takes the folder itself. Nothing ever opens the folder twice.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PGlite } from '@electric-sql/pglite';
import { Kysely, type DatabaseConnection, type Driver, type TransactionSettings } from 'kysely';
import { claimDataDir, DataDirBusyError, type DataDirLock, type LockHolder } from './dataDirLock.js';
import { openPostgres, type Database, type DatabaseHandle, type DatabaseOptions } from './database.js';
import { SessionArbiter, SOCKET_NAME, serveEmbeddedSocket, type EmbeddedSocketServer } from './embeddedSocket.js';
import { decodeKeyChange, KEY_CHANGES_CHANNEL, newWriterId, type KeyChangeListener, type KeyChangeSubscriber } from './keyChanges.js';

// A unix socket path holds at most 107 bytes; a longer folder gets its socket in a folder of its own under /tmp.
const MAX_SOCKET_PATH = 107;
// How long a command waits for a server still starting (migrations) to share the database.
const SERVER_START_WAIT_MS = 60_000;

export async function openEmbedded(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.dataDir.startsWith('memory://')) return openPGlite(options.dataDir, null);
  const command = options.command ?? 'command';
  const deadline = Date.now() + SERVER_START_WAIT_MS;
  for (;;) {
    const claim = await claimDataDir(options.dataDir, command);
    if ('release' in claim) {
      try {
        return await openPGlite(claim.dataDir, claim, command === 'serve');
      } catch (e) {
        await claim.release();
        throw e;
      }
    }
    if (command === 'serve' || claim.command !== 'serve') throw busyError(path.resolve(options.dataDir), command, claim);
    if (claim.socketDir) {
      const handle = await connectThroughServer(claim.socketDir, options.poolSize ?? 10);
      if (handle) return handle;
    }
    if (Date.now() > deadline) {
      throw new DataDirBusyError(
        `${path.resolve(options.dataDir)} is held by keystore serve (pid ${claim.pid}), which has not let commands in within ${SERVER_START_WAIT_MS / 1000} s; is it stuck?`,
        claim,
      );
    }
    await sleep(200); // the server is starting (or stopping): look again
  }
}

function busyError(dataDir: string, command: string, holder: LockHolder): DataDirBusyError {
  const who = `${dataDir} is in use by keystore ${holder.command} (pid ${holder.pid}, since ${holder.since}): an embedded database has one owner`;
  if (command === 'serve' && holder.command === 'serve') {
    return new DataDirBusyError(
      `${who}, so a second server cannot open it. Stop that server first, or give this one another DATA_DIR (or use DATABASE_URL: any number of servers can share one PostgreSQL database).`,
      holder,
    );
  }
  if (command === 'serve') return new DataDirBusyError(`${who}. Start the server once that command has finished.`, holder);
  return new DataDirBusyError(
    `${who}. Run this once that command has finished, or start keystore serve on the folder first: commands then go through it, several at once.`,
    holder,
  );
}

/** A pool through a server's socket, or null when nothing answers there (the server is starting or stopping). */
async function connectThroughServer(socketDir: string, poolSize: number): Promise<DatabaseHandle | null> {
  const url = `postgres://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}`;
  const handle = openPostgres(url, poolSize, true);
  try {
    await handle.db.selectNoFrom((eb) => eb.lit(1).as('one')).execute();
    return handle;
  } catch {
    await handle.close().catch(() => {});
    return null;
  }
}

async function openPGlite(dataDir: string, lock: DataDirLock | null, share = false): Promise<DatabaseHandle> {
  const [{ PGlite }, { pg_trgm }, { PGliteDialect }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite/contrib/pg_trgm'),
    import('kysely-pglite-dialect'),
  ]);
  const lite = await PGlite.create(dataDir, { extensions: { pg_trgm } });
  if (!lock) {
    const db = new Kysely<Database>({ dialect: new PGliteDialect(lite) });
    return { db, kind: 'pglite', writerId: newWriterId(), close: () => db.destroy() };
  }
  const arbiter = new SessionArbiter();
  const inner = new PGliteDialect(lite);
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => inner.createAdapter(),
      createQueryCompiler: () => inner.createQueryCompiler(),
      createIntrospector: (k) => inner.createIntrospector(k),
      createDriver: () => new SharedSessionDriver(inner.createDriver(), arbiter),
    },
  });
  const writerId = newWriterId();
  let socket: EmbeddedSocketServer | null = null;
  let socketDirMade: string | null = null;
  return {
    db,
    kind: 'pglite',
    writerId,
    listenForKeyChanges: (subscriber) => listenOnPGlite(lite, arbiter, writerId, subscriber),
    ...(share
      ? {
          async shareWithCommands() {
            let socketDir = lock.dataDir;
            if (path.join(socketDir, SOCKET_NAME).length > MAX_SOCKET_PATH)
              socketDir = socketDirMade = await mkdtemp(path.join(tmpdir(), 'keystore-'));
            socket = await serveEmbeddedSocket(lite, arbiter, socketDir);
            await lock.setSocketDir(socketDir);
          },
        }
      : {}),
    async close() {
      try {
        await socket?.close();
        await db.destroy(); // waits for the session: a client cut off is rolled back first
      } finally {
        if (socketDirMade) await rm(socketDirMade, { recursive: true, force: true });
        await lock.release();
      }
    },
  };
}

/** Kysely's PGlite driver, taking the one session from the arbiter for each connection it hands out. */
class SharedSessionDriver implements Driver {
  #release: (() => void) | null = null;

  constructor(
    private readonly inner: Driver,
    private readonly arbiter: SessionArbiter,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.arbiter.acquire();
    try {
      const connection = await this.inner.acquireConnection();
      this.#release = release;
      return connection;
    } catch (e) {
      release();
      throw e;
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const release = this.#release;
    this.#release = null;
    try {
      await this.inner.releaseConnection(connection);
    } finally {
      release?.();
    }
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  async destroy(): Promise<void> {
    const release = await this.arbiter.acquire();
    try {
      await this.inner.destroy();
    } finally {
      release();
    }
  }
}

/**
 * Hears the key changes written through the socket (by `keystore import`): the session LISTENs, and PGlite hands
 * the notifications of every transaction it commits, whoever sent it, to its listeners. Its own are skipped.
 */
function listenOnPGlite(lite: PGlite, arbiter: SessionArbiter, writerId: string, subscriber: KeyChangeSubscriber): KeyChangeListener {
  let closed = false;
  subscriber.listening(false);
  const ready = (async () => {
    const release = await arbiter.acquire();
    try {
      await lite.listen(KEY_CHANGES_CHANNEL, (payload) => {
        if (closed) return;
        const { news, writer } = decodeKeyChange(payload);
        if (writer !== writerId) subscriber.change(news);
      });
    } finally {
      release();
    }
    if (!closed) subscriber.listening(true);
  })();
  return {
    async close() {
      closed = true;
      subscriber.listening(false);
      await ready.catch(() => {});
    },
  };
}
