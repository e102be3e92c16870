// The embedded database shared with the command line: the process that owns a DATA_DIR (keystore serve) lets
// other processes reach its PGlite over a unix socket, speaking the PostgreSQL wire protocol, so `keystore
// token|import|export|audit|stats|migrate` (node-postgres, or psql) work beside the server, their writes live at once.
// PGlite is one PostgreSQL session: whoever uses it (the server's own queries, or one socket client) keeps it from
// its first message until PostgreSQL reports the session idle again (ReadyForQuery 'I', i.e. outside a transaction
// and after a Sync), so transactions and extended-protocol exchanges never interleave.
import { createServer, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';

/** A first-come first-served lock on the one PGlite session. */
export class SessionArbiter {
  #tail: Promise<void> = Promise.resolve();

  /** Resolves once the session is this caller's; call the function it gives to hand it on. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const previous = this.#tail;
    this.#tail = previous.then(() => mine);
    return previous.then(() => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    });
  }
}

// Startup-phase request codes (the int32 after the length) that are not a startup message (a cancel request,
// 80877102, is not served).
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const PROTOCOL_3 = 196608;
// A client holding the session (in a transaction) and silent this long is cut off and rolled back, so a stuck
// command cannot stall the server for good.
const HOLD_IDLE_MS = 60_000;
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);
const MAX_STARTUP_BYTES = 10_000;

/** The status of the last ReadyForQuery in a run of backend messages ('I', 'T', 'E'), or null when there is none. */
export function lastReadyStatus(out: Uint8Array): string | null {
  let status: string | null = null;
  let at = 0;
  while (at + 5 <= out.length) {
    const length = ((out[at + 1]! << 24) | (out[at + 2]! << 16) | (out[at + 3]! << 8) | out[at + 4]!) >>> 0;
    if (out[at] === 0x5a && length === 5 && at + 6 <= out.length) status = String.fromCharCode(out[at + 5]!);
    at += 1 + length;
  }
  return status;
}

export interface EmbeddedSocketServer {
  /** The socket's folder, as node-postgres's `host` (the socket is FOLDER/.s.PGSQL.5432). */
  socketDir: string;
  /** Stops accepting, cuts off the clients (rolling back what they had open) and removes the socket file. */
  close(): Promise<void>;
}

export const SOCKET_NAME = '.s.PGSQL.5432';

export async function serveEmbeddedSocket(lite: PGlite, arbiter: SessionArbiter, socketDir: string): Promise<EmbeddedSocketServer> {
  const path = `${socketDir}/${SOCKET_NAME}`;
  // Only a server that holds the folder's lock gets here: a socket file left is a killed server's.
  await unlink(path).catch(() => {});
  const clients = new Set<Socket>();
  const server: Server = createServer((socket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    serveClient(lite, arbiter, socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    socketDir,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of clients) socket.destroy();
      await closed;
      await unlink(path).catch(() => {});
    },
  };
}

function serveClient(lite: PGlite, arbiter: SessionArbiter, socket: Socket): void {
  let pending: Buffer = Buffer.alloc(0);
  let started = false;
  let release: (() => void) | null = null;
  let idleTimer: NodeJS.Timeout | null = null;
  // Batches of one client run one after the other, in order.
  let chain: Promise<void> = Promise.resolve();

  const run = (batch: Buffer) => {
    chain = chain
      .then(async () => {
        if (socket.destroyed) return;
        if (idleTimer) clearTimeout(idleTimer);
        release ??= await arbiter.acquire();
        if (socket.destroyed) return; // cleaned up below once the chain ends
        const out = await lite.runExclusive(() => lite.execProtocolRaw(new Uint8Array(batch.buffer, batch.byteOffset, batch.length)));
        if (out.length > 0) socket.write(out);
        const status = lastReadyStatus(out);
        if (status === 'I') {
          release();
          release = null;
        } else {
          idleTimer = setTimeout(() => socket.destroy(), HOLD_IDLE_MS);
          idleTimer.unref();
        }
      })
      .catch(() => {
        socket.destroy();
      });
  };

  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const messages: Buffer[] = [];
    while (pending.length >= 5) {
      if (!started) {
        if (pending.length < 8) break;
        const length = pending.readInt32BE(0);
        if (length < 8 || length > MAX_STARTUP_BYTES) return void socket.destroy(); // not PostgreSQL
        if (pending.length < length) break;
        const code = pending.readInt32BE(4);
        const packet = pending.subarray(0, length);
        pending = pending.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write('N'); // no encryption on a local socket
        } else if (code === PROTOCOL_3) {
          started = true;
          run(Buffer.from(packet));
        } else {
          socket.destroy(); // cancel requests and unknown protocols are not served
          return;
        }
        continue;
      }
      const length = 1 + pending.readInt32BE(1);
      if (length < 5) return void socket.destroy(); // a broken frame
      if (pending.length < length) break;
      const message = pending.subarray(0, length);
      pending = pending.subarray(length);
      if (message[0] === 0x58) {
        // Terminate
        socket.end();
        break;
      }
      messages.push(message);
    }
    if (messages.length > 0) run(Buffer.concat(messages));
    if (pending.length > 0) pending = Buffer.from(pending); // keep only what is needed of the chunk
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    if (idleTimer) clearTimeout(idleTimer);
    chain = chain
      .then(async () => {
        if (!release) return;
        // The client left holding the session: end what it had started before anyone else goes on.
        try {
          await lite.runExclusive(async () => {
            await lite.execProtocolRaw(SYNC);
            if (lite.isInTransaction()) await lite.execProtocolRaw(simpleQuery('ROLLBACK'));
          });
        } finally {
          release();
          release = null;
        }
      })
      .catch(() => {});
  });
}

function simpleQuery(text: string): Uint8Array {
  const body = Buffer.from(`${text}\0`, 'utf8');
  const message = Buffer.alloc(5 + body.length);
  message[0] = 0x51;
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return message;
}
