// HTTPS requests that trust a test CA (test/helpers/tls.ts), over HTTP/1.1 or HTTP/2, with what the TLS layer
// saw: the protocol chosen by ALPN and the server's certificate. Node's fetch cannot be given a CA in Node 20.
import http2 from 'node:http2';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** 'h2' when HTTP/2 was chosen by ALPN (false: no ALPN, as node:https sends none). */
  alpn: string | false;
  /** SHA-256 fingerprint of the certificate the server presented. */
  certificate: string;
}

export interface HttpsRequestOptions {
  ca: Buffer;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** HTTP/2 instead of HTTP/1.1. */
  http2?: boolean;
  /** A keep-alive agent (HTTP/1.1); default a new connection, closed after the answer. */
  agent?: https.Agent;
  timeoutMs?: number;
}

export function httpsRequest(url: string, options: HttpsRequestOptions): Promise<HttpsAnswer> {
  return options.http2 ? http2Request(url, options) : http1Request(url, options);
}

function http1Request(url: string, options: HttpsRequestOptions): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        ca: options.ca,
        agent: options.agent ?? false,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const alpn = socket.alpnProtocol ?? false;
        const certificate = socket.getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), alpn, certificate }));
        res.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 10_000} ms`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

function http2Request(url: string, options: HttpsRequestOptions): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const session = http2.connect(target.origin, { ca: options.ca });
    const fail = (e: Error) => {
      session.destroy();
      reject(e);
    };
    session.on('error', fail);
    session.setTimeout(options.timeoutMs ?? 10_000, () => fail(new Error(`no answer from ${url} in time`)));
    const stream = session.request({ ':method': options.method ?? 'GET', ':path': target.pathname + target.search, ...(options.headers ?? {}) });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (headers = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', fail);
    stream.on('end', () => {
      const socket = session.socket as TLSSocket;
      const answer = {
        status: Number(headers[':status']),
        headers,
        body: Buffer.concat(chunks),
        alpn: socket.alpnProtocol ?? false,
        certificate: socket.getPeerCertificate().fingerprint256,
      };
      session.close();
      resolve(answer);
    });
    stream.end(options.body);
  });
}

/**
 * A fetch trusting `ca`, as Go's client trusts the system's CAs: one new HTTP/1.1 connection per request
 * (SingularityCE's DisableKeepAlives). Takes string or URL input, method, plain-object headers, a string body.
 */
export function fetchTrusting(ca: Buffer): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    if (input instanceof Request) throw new Error('fetchTrusting takes a URL');
    const answer = await httpsRequest(String(input), {
      ca,
      method: init.method ?? 'GET',
      headers: { ...(init.headers as Record<string, string> | undefined), connection: 'close' },
      ...(typeof init.body === 'string' ? { body: init.body } : {}),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined) for (const v of [value].flat()) headers.append(name, v);
    }
    return new Response(answer.status === 204 || answer.status === 304 ? null : new Uint8Array(answer.body), { status: answer.status, headers });
  }) as typeof fetch;
}
