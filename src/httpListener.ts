// An HTTP listener that stops gracefully: it refuses new connections, lets requests in flight finish within a
// bounded wait, and closes keep-alive connections as soon as they are idle.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpListener {
  port: number;
  /**
   * Stops accepting connections and waits for requests in flight, at most `timeoutMs`; then destroys the
   * connections left. Resolves to the number of requests cut off that way (0 when all finished).
   */
  close(timeoutMs: number): Promise<number>;
}

export async function listen(handler: http.RequestListener, port: number, host: string): Promise<HttpListener> {
  let closing = false;
  const inFlight = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    // A request arriving on a kept-alive connection while closing is still answered, then the connection closed.
    if (closing) res.setHeader('Connection', 'close');
    handler(req, res);
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close(timeoutMs) {
      closing = true;
      // Responses not yet started end their connection once sent, instead of keeping it alive.
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      return new Promise<number>((resolve) => {
        let cutOff = 0;
        const timer = setTimeout(() => {
          cutOff = inFlight.size;
          server.closeAllConnections();
        }, timeoutMs);
        server.close(() => {
          clearTimeout(timer);
          resolve(cutOff);
        });
        server.closeIdleConnections();
      });
    },
  };
}
