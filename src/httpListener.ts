// HTTP and HTTPS listeners that stop gracefully: they refuse new connections, let requests in flight finish within a
// bounded wait, and close keep-alive connections as soon as they are idle. The HTTPS one speaks HTTP/2 to clients
// that offer it (ALPN) and HTTP/1.1 to the others on the same port, and takes a new certificate without a restart.
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { TLS_PROTOCOL_OPTIONS } from './tls/certificates.js';

export interface HttpListener {
  port: number;
  /**
   * Stops accepting connections and waits for requests in flight, at most `timeoutMs`; then destroys the
   * connections left. Resolves to the number of requests cut off that way (0 when all finished).
   */
  close(timeoutMs: number): Promise<number>;
}

export interface SecureHttpListener extends HttpListener {
  /** New connections get this certificate and key (PEM); connections open keep theirs. Ticket keys stay. */
  setCertificate(cert: Buffer, key: Buffer): void;
  /** Session tickets are made and read with these keys (48 bytes) from now on. */
  setTicketKeys(keys: Buffer): void;
}

export interface SecureListenerOptions {
  cert: Buffer;
  key: Buffer;
  /** A connection whose TLS handshake is not done within this is dropped. */
  handshakeTimeoutMs: number;
  /** Strict-Transport-Security max-age on every answer; 0 = no header. */
  hstsMaxAgeSeconds: number;
  /** Session-ticket keys (48 bytes) shared with other processes serving the same port; else random ones. */
  ticketKeys?: Buffer | undefined;
}

type Response = http.ServerResponse | http2.Http2ServerResponse;
type Request = http.IncomingMessage | http2.Http2ServerRequest;

/** Idle time after which an HTTP/2 connection or a quiet HTTP/1 socket of the HTTPS listener is closed. */
const SECURE_IDLE_TIMEOUT_MS = 120_000;
/**
 * How long an idle kept-alive HTTP/1.1 connection stays open. Longer than node:http's 5 s: a server closing a
 * connection as its client sends the next request on it resets that request (ECONNRESET); clients read this from
 * `Keep-Alive: timeout=30` and close their idle connections first. Shutdown closes idle connections at once.
 */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;
/** Parallel requests one HTTP/2 connection may have (node's default has no limit). */
const MAX_CONCURRENT_STREAMS = 100;

/** The requests in flight of one listener, and the `Connection: close` of answers once it is closing. */
class InFlight {
  closing = false;
  readonly responses = new Set<Response>();

  wrap(handler: http.RequestListener, headers: [string, string][] = []) {
    return (req: Request, res: Response) => {
      this.responses.add(res);
      res.on('close', () => this.responses.delete(res));
      for (const [name, value] of headers) res.setHeader(name, value);
      // A request arriving on a kept-alive connection while closing is still answered, then the connection closed
      // (HTTP/2 has no Connection header: its connections get a GOAWAY instead).
      if (this.closing && req.httpVersionMajor < 2) res.setHeader('Connection', 'close');
      // The HTTP/2 compatibility objects offer what the handlers use of node:http's (koa supports both).
      handler(req as http.IncomingMessage, res as http.ServerResponse);
    };
  }

  /** Answers not begun yet end their connection once sent, instead of keeping it alive. */
  startClosing(): void {
    this.closing = true;
    for (const res of this.responses) {
      if (!res.headersSent && !(res instanceof http2.Http2ServerResponse)) res.setHeader('Connection', 'close');
    }
  }
}

/** Waits for `server.close` at most `timeoutMs`, then calls `cutOff` (which must make the close finish). */
function closeWithin(server: http.Server | http2.Http2SecureServer, inFlight: InFlight, timeoutMs: number, cutOff: () => void): Promise<number> {
  return new Promise<number>((resolve) => {
    let cut = 0;
    const timer = setTimeout(() => {
      cut = inFlight.responses.size;
      cutOff();
    }, timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolve(cut);
    });
  });
}

export async function listen(handler: http.RequestListener, port: number, host: string): Promise<HttpListener> {
  const inFlight = new InFlight();
  const server = http.createServer(inFlight.wrap(handler));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close(timeoutMs) {
      inFlight.startClosing();
      const closed = closeWithin(server, inFlight, timeoutMs, () => server.closeAllConnections());
      // Node's HTTP/2 server has it for its HTTP/1.1 side (allowHTTP1), but its type does not say so.
      (server as unknown as { closeIdleConnections(): void }).closeIdleConnections();
      return closed;
    },
  };
}

/** HTTPS (HTTP/2 and HTTP/1.1) with the settings of TLS_PROTOCOL_OPTIONS. */
export async function listenSecure(
  handler: http.RequestListener,
  port: number,
  host: string,
  options: SecureListenerOptions,
): Promise<SecureHttpListener> {
  const inFlight = new InFlight();
  const headers: [string, string][] = options.hstsMaxAgeSeconds > 0 ? [['Strict-Transport-Security', `max-age=${options.hstsMaxAgeSeconds}`]] : [];
  const server = http2.createSecureServer(
    {
      ...TLS_PROTOCOL_OPTIONS,
      cert: options.cert,
      key: options.key,
      allowHTTP1: true,
      handshakeTimeout: options.handshakeTimeoutMs,
      settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
      ...(options.ticketKeys ? { ticketKeys: options.ticketKeys } : {}),
    },
    inFlight.wrap(handler, headers),
  );
  server.setTimeout(SECURE_IDLE_TIMEOUT_MS);
  // Read by node's HTTP/1.1 connection handling, which this server reuses for clients without HTTP/2.
  (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;

  // Every TCP connection, and which of them have finished their handshake (by remote address and port, the one
  // thing the TCP socket and the TLS socket over it share in node's public API): at close, a connection still
  // shaking hands has no request and is dropped at once.
  const sockets = new Map<string, { socket: Socket; secure: boolean }>();
  const keyOf = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
  server.on('connection', (socket: Socket) => {
    const key = keyOf(socket);
    sockets.set(key, { socket, secure: false });
    socket.once('close', () => sockets.delete(key));
  });
  server.on('secureConnection', (socket: Socket) => {
    const entry = sockets.get(keyOf(socket));
    if (entry) entry.secure = true;
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // Garbage, plain HTTP and handshakes that time out end here; node has already destroyed the socket.
  server.on('tlsClientError', () => {});

  server.listen(port, host);
  await once(server, 'listening');
  // In a cluster worker node sets the first worker's ticket keys on listening: the ones given win (rotated since).
  if (options.ticketKeys) server.setTicketKeys(options.ticketKeys);
  return {
    port: (server.address() as AddressInfo).port,
    setCertificate(cert, key) {
      // node's setSecureContext makes new random ticket keys: sessions of the other workers (and of this one
      // before) could no longer resume here.
      const ticketKeys = server.getTicketKeys();
      server.setSecureContext({ ...TLS_PROTOCOL_OPTIONS, cert, key });
      server.setTicketKeys(ticketKeys);
    },
    setTicketKeys(keys) {
      server.setTicketKeys(keys);
    },
    close(timeoutMs) {
      inFlight.startClosing();
      const closed = closeWithin(server, inFlight, timeoutMs, () => {
        for (const { socket } of sockets.values()) socket.destroy();
      });
      for (const { socket, secure } of sockets.values()) if (!secure) socket.destroy();
      // HTTP/2: GOAWAY, the streams open finish, then the connection closes. HTTP/1.1: idle ones close now.
      for (const session of sessions) session.close();
      // Node's HTTP/2 server has it for its HTTP/1.1 side (allowHTTP1), but its type does not say so.
      (server as unknown as { closeIdleConnections(): void }).closeIdleConnections();
      return closed;
    },
  };
}
