// The HTTPS listener (TLS_CERT_FILE/TLS_KEY_FILE) against the real app on every store: HTTP/2 and HTTP/1.1 on one
// port, the cached-lookup shortcut on both, Strict-Transport-Security, https URLs in Singularity's configuration
// document, and hostile TLS input (garbage, plain HTTP, handshakes left half-open) that never crashes or blocks.
import { X509Certificate, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { lookupPath, pushKeys } from '../helpers/hkp.js';
import { httpsRequest } from '../helpers/https.js';
import { makeKey } from '../helpers/keys.js';
import { backends, capturingLogger, startTestServer, type TestServer } from '../helpers/server.js';
import { TestCa, type IssuedCertificate } from '../helpers/tls.js';

let ca: TestCa;
let caPem: Buffer;
let issued: IssuedCertificate;
// Requests that reached the Koa app (as in cachedLookup.test.ts): 0 = answered by the cached-lookup shortcut.
let createContext: MockInstance;

beforeAll(async () => {
  ca = await TestCa.create();
  caPem = await readFile(ca.caFile);
  issued = await ca.issue('server');
  createContext = vi.spyOn(Koa.prototype, 'createContext');
});
afterAll(async () => {
  createContext.mockRestore();
  await ca?.remove();
});

const HANDSHAKE_TIMEOUT_MS = 600;

function tlsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TLS_CERT_FILE: issued.certFile,
    TLS_KEY_FILE: issued.keyFile,
    HTTPS_PORT: '0',
    TLS_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS),
    ...extra,
  };
}

/** A raw TCP connection to `port`: what it receives, and how long until the server closed it. */
function rawConnection(port: number, send?: Buffer): Promise<{ received: Buffer; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => {
      if (send) socket.write(send);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {}); // a reset is a close too
    socket.on('close', () => resolve({ received: Buffer.concat(chunks), closedAfterMs: Date.now() - started }));
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for 10 s (sent ${send?.length ?? 0} bytes)`));
    }, 10_000);
  });
}

/** The first bytes a real client sends: a TLS ClientHello, captured from node's own client. */
function clientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.once('data', (hello: Buffer) => {
        socket.destroy();
        server.close();
        resolve(hello);
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const client = tls.connect({
        port: (server.address() as net.AddressInfo).port,
        host: '127.0.0.1',
        servername: 'localhost',
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      client.on('error', () => {});
    });
  });
}

describe.each(backends)('HTTPS (%s)', (backend) => {
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    server = await startTestServer(backend, tlsEnv());
    base = `https://localhost:${server.httpsPort}`;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers HTTP/2 to clients offering it and HTTP/1.1 to the others, with Strict-Transport-Security', async () => {
    const h2 = await httpsRequest(`${base}/version`, { ca: caPem, http2: true });
    const h1 = await httpsRequest(`${base}/version`, { ca: caPem });
    for (const answer of [h2, h1]) {
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body.toString())).toEqual({ data: { version: 'test' } });
      expect(answer.headers['strict-transport-security']).toBe('max-age=31536000');
    }
    expect(h2.alpn).toBe('h2');
    expect(h1.alpn).toBe(false);
    const plain = await fetch(`${server.url}/version`);
    expect(plain.headers.get('strict-transport-security')).toBeNull();
  });

  it('speaks TLS 1.3 and 1.2 with forward-secret AEAD suites only', async () => {
    const handshake = (options: tls.ConnectionOptions) =>
      new Promise<{ protocol: string | null; cipher: string } | Error>((resolve) => {
        const socket = tls.connect({ port: server.httpsPort!, host: '127.0.0.1', servername: 'localhost', ca: caPem, ...options }, () => {
          const result = { protocol: socket.getProtocol(), cipher: socket.getCipher().name };
          socket.destroy();
          resolve(result);
        });
        socket.on('error', (e) => resolve(e));
      });
    expect(await handshake({})).toEqual({
      protocol: 'TLSv1.3',
      cipher: expect.stringMatching(/^TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/),
    });
    expect(await handshake({ maxVersion: 'TLSv1.2' })).toEqual({
      protocol: 'TLSv1.2',
      cipher: expect.stringMatching(/^ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/),
    });
    // Suites without forward secrecy or without AEAD, and TLS 1.1, find nothing in common with the server.
    for (const ciphers of ['AES128-GCM-SHA256', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384']) {
      expect(await handshake({ maxVersion: 'TLSv1.2', ciphers }), ciphers).toBeInstanceOf(Error);
    }
    expect(await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' })).toBeInstanceOf(Error);
  });

  it('answers a repeated lookup from the cached-lookup shortcut over HTTP/1.1 and HTTP/2, the same bytes as over HTTP', async () => {
    const key = await makeKey([{ name: 'Tls Cached', email: `tls-cached-${backend}@example.org` }]);
    expect((await pushKeys(server.url, key.armored)).status).toBe(200);
    const path = lookupPath({ op: 'get', options: 'mr', search: `0x${key.fingerprint}` });
    const reference = Buffer.from(await (await fetch(`${server.url}${path}`)).arrayBuffer());
    for (const http2 of [false, true]) {
      for (let round = 0; round < 2; round++) {
        const before = createContext.mock.calls.length;
        const answer = await httpsRequest(`${base}${path}`, { ca: caPem, http2 });
        expect(answer.status).toBe(200);
        expect(answer.body.equals(reference), `http2=${http2}`).toBe(true);
        expect(answer.headers['content-type']).toBe('application/pgp-keys');
        expect(answer.headers['access-control-allow-origin']).toBe('*');
        expect(answer.headers['strict-transport-security']).toBe('max-age=31536000');
        // Cached by the plain-HTTP fetch above: no request reaches the app.
        expect(createContext.mock.calls.length - before, `http2=${http2}, round ${round}`).toBe(0);
      }
    }
  });

  it('takes pushes over both protocols (the request body is read from HTTP/2 streams too)', async () => {
    for (const http2 of [false, true]) {
      const key = await makeKey([{ name: 'Tls Push', email: `tls-push-${http2}-${backend}@example.org` }]);
      const answer = await httpsRequest(`${base}/pks/add`, {
        ca: caPem,
        http2,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ keytext: key.armored }).toString(),
      });
      expect(answer.status, answer.body.toString()).toBe(200);
      expect(answer.body.toString()).toBe('1 key(s) added, 0 updated, 0 unchanged\n');
    }
    // A body over MAX_BODY_BYTES: 413 on its stream (HTTP/2) or connection (HTTP/1.1), no warning, nothing broken.
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (const http2 of [false, true]) {
        const big = `keytext=${'A'.repeat(9 * 1024 * 1024)}`;
        const answer = await httpsRequest(`${base}/pks/add`, {
          ca: caPem,
          http2,
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: big,
        });
        expect(answer.status, `http2=${http2}`).toBe(413);
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(warnings.map((w) => w.message)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
    expect((await httpsRequest(`${base}/version`, { ca: caPem, http2: true })).status).toBe(200);
  });

  it('names https URLs in the configuration document when asked over HTTPS, http over HTTP', async () => {
    for (const http2 of [false, true]) {
      const answer = await httpsRequest(`${base}/assets/config/config.prod.json`, { ca: caPem, http2 });
      expect(JSON.parse(answer.body.toString())).toEqual({ keystoreAPI: { uri: base }, tokenAPI: { uri: base } });
    }
    const plain = await (await fetch(`${server.url}/assets/config/config.prod.json`)).json();
    expect(plain).toEqual({ keystoreAPI: { uri: server.url }, tokenAPI: { uri: server.url } });
  });

  it('survives garbage, plain HTTP, a TLS handshake on the HTTP port and garbage HTTP/2 frames, and answers the next client', async () => {
    const port = server.httpsPort!;
    const garbage = await rawConnection(port, randomBytes(4096));
    expect(garbage.closedAfterMs).toBeLessThan(5000);
    const plainHttp = await rawConnection(port, Buffer.from('GET /pks/lookup?op=get&search=0x1234 HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    expect(plainHttp.closedAfterMs).toBeLessThan(5000);
    expect(plainHttp.received.toString('latin1')).not.toContain('HTTP/1.1 200');
    // A ClientHello to the plain port: node's HTTP parser answers 400 and closes.
    const helloToHttp = await rawConnection(server.port, await clientHello());
    expect(helloToHttp.received.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    // A finished handshake choosing HTTP/2, then bytes that are no HTTP/2 preface: the connection is closed.
    const closed = await new Promise<boolean>((resolve) => {
      const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: caPem, ALPNProtocols: ['h2'] }, () => {
        expect(socket.alpnProtocol).toBe('h2');
        socket.write(randomBytes(2048));
      });
      socket.resume(); // read the server's GOAWAY and end of stream
      socket.on('error', () => {});
      socket.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 5000);
    });
    expect(closed).toBe(true);
    expect((await httpsRequest(`${base}/version`, { ca: caPem })).status).toBe(200);
  });

  it('drops handshakes left half-open after TLS_HANDSHAKE_TIMEOUT_MS, serving others meanwhile', async () => {
    const port = server.httpsPort!;
    const hello = await clientHello();
    // Twenty connections that say nothing, and twenty that stop in the middle of their ClientHello.
    const idle = Array.from({ length: 40 }, (_, i) => rawConnection(port, i % 2 === 0 ? undefined : hello.subarray(0, Math.floor(hello.length / 2))));
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      expect((await httpsRequest(`${base}/version`, { ca: caPem, http2: i % 2 === 0 })).status).toBe(200);
    }
    expect(Date.now() - started).toBeLessThan(HANDSHAKE_TIMEOUT_MS * 4);
    for (const connection of await Promise.all(idle)) {
      expect(connection.closedAfterMs).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 50);
      expect(connection.closedAfterMs).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 5000);
      expect(connection.received.length).toBe(0);
    }
  });
});

describe('HTTPS with PUBLIC_URL, PORT=off, reloads, and at shutdown', () => {
  it('names PUBLIC_URL in the configuration document, serving HTTPS alone with PORT=off', async () => {
    const server = await startTestServer('pglite', tlsEnv({ PORT: 'off', PUBLIC_URL: 'https://keys.example.org' }));
    try {
      expect(server.url).toBe(server.httpsUrl);
      expect(server.url).toMatch(/^https:/);
      const answer = await httpsRequest(`https://localhost:${server.httpsPort}/assets/config/config.prod.json`, { ca: caPem });
      expect(JSON.parse(answer.body.toString())).toEqual({
        keystoreAPI: { uri: 'https://keys.example.org' },
        tokenAPI: { uri: 'https://keys.example.org' },
      });
    } finally {
      await server.close();
    }
  });

  it('reloads on request: unchanged files, a new pair for new connections, a mismatched pair refused and logged', async () => {
    const dir = join(ca.dir, `reload-${Date.now()}`);
    await mkdir(dir);
    const [second, third] = [await ca.issue('second'), await ca.issue('third')];
    const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
    await copyFile(issued.certFile, files.cert);
    await copyFile(issued.keyFile, files.key);
    const lines: Record<string, unknown>[] = [];
    const server = await startTestServer('pglite', tlsEnv({ TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key }), capturingLogger(lines));
    const presented = async () => (await httpsRequest(`https://localhost:${server.httpsPort}/version`, { ca: caPem })).certificate;
    const fingerprint = async (c: IssuedCertificate) => new X509Certificate(await readFile(c.leafFile)).fingerprint256;
    try {
      expect(await presented()).toBe(await fingerprint(issued));
      expect(await server.reloadCertificates('test')).toBe('unchanged');
      await copyFile(second.certFile, files.cert);
      await copyFile(second.keyFile, files.key);
      expect(await server.reloadCertificates('test')).toBe('reloaded');
      expect(await presented()).toBe(await fingerprint(second));
      await copyFile(third.keyFile, files.key);
      expect(await server.reloadCertificates('test')).toBe('refused');
      expect(await presented()).toBe(await fingerprint(second));
      const refused = lines.find((l) =>
        String(l['msg']).startsWith('new TLS certificate refused, still serving the previous one: invalid TLS_KEY_FILE='),
      );
      expect(refused?.['level']).toBe(50);
      expect(lines.filter((l) => String(l['msg']).startsWith('TLS certificate reloaded (test)'))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('stops at once although a handshake is left half-open and an HTTP/2 connection is kept open', async () => {
    const server = await startTestServer('pglite', tlsEnv({ TLS_HANDSHAKE_TIMEOUT_MS: '60000' }));
    const halfOpen = rawConnection(server.httpsPort!);
    // An HTTP/2 connection kept open after its request: it gets a GOAWAY and ends instead of holding the stop.
    const session = http2.connect(`https://localhost:${server.httpsPort}`, { ca: caPem });
    session.on('error', () => {});
    const sessionClosed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': '/version' });
      stream.on('response', (h) => resolve(Number(h[':status'])));
      stream.on('error', reject);
      stream.resume();
    });
    expect(status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await halfOpen).closedAfterMs).toBeLessThan(5000);
    await sessionClosed;
  });
});
