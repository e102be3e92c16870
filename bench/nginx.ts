// Side by side with nginx: when Debian's nginx (nginx-light) is installed, nginx on loopback serving the same
// answers as static files over plain HTTP and, with a certificate (a self-signed one for the keystore under test,
// TLS_CERT_FILE), over HTTPS terminating TLS with the same certificate and protocol settings. See bench/README.md.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { TLS_PROTOCOL_OPTIONS } from '../src/tls/certificates.js';
import type { HkpRequest } from './queries.js';
import { freePort } from './server.js';

const execFileAsync = promisify(execFile);

export interface BenchCertificate {
  certFile: string;
  keyFile: string;
}

/**
 * A self-signed certificate for localhost and 127.0.0.1 (the load generators do not verify it): P-256, or RSA-2048
 * for the handshake comparison (bench/tls-handshake.ts).
 */
export async function makeBenchCertificate(workDir: string, key: 'p256' | 'rsa' = 'p256'): Promise<BenchCertificate> {
  const certFile = path.join(workDir, `bench-${key}-cert.pem`);
  const keyFile = path.join(workDir, `bench-${key}-key.pem`);
  const keyOptions = key === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  await execFileAsync(
    'openssl',
    [
      'req',
      '-x509',
      ...keyOptions,
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '30',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { timeout: 60_000 },
  );
  return { certFile, keyFile };
}

export function opensslInstalled(): boolean {
  return ['/usr/bin/openssl', '/bin/openssl'].some((p) => existsSync(p));
}

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

export function nginxInstalled(): boolean {
  return NGINX !== undefined;
}

export interface RunningNginx {
  /** Plain HTTP. */
  url: string;
  /** HTTPS, when started with a certificate. */
  httpsUrl: string | undefined;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Writes each distinct op=get answer of `requests` (fetched from keystore at `keystoreUrl`) as a static file and
 * serves them with nginx on HTTP and (with a certificate) HTTPS: /pks/lookup?...&search=0x<FPR> →
 * keys/0x<FPR>.asc, as application/pgp-keys, over HTTPS with the Strict-Transport-Security header keystore sends.
 * One nginx worker per keystore worker.
 */
export async function startNginx(options: {
  workDir: string;
  certificate: BenchCertificate | undefined;
  keystoreUrl: string;
  requests: HkpRequest[];
  workers: number;
}): Promise<RunningNginx> {
  if (!NGINX) throw new Error('nginx is not installed');
  const root = path.join(options.workDir, 'nginx');
  await mkdir(path.join(root, 'static', 'keys'), { recursive: true });
  await mkdir(path.join(root, 'temp'), { recursive: true });
  const searches = new Set(
    options.requests.map((r) => new URLSearchParams(r.path.split('?')[1] ?? '').get('search')).filter((s): s is string => s !== null),
  );
  for (const search of searches) {
    if (!/^0x[0-9A-F]+$/.test(search)) throw new Error(`not a fingerprint search: ${search}`);
    const response = await fetch(`${options.keystoreUrl}/pks/lookup?op=get&options=mr&search=${search}`);
    if (response.status !== 200) throw new Error(`keystore answered ${response.status} for ${search}`);
    await writeFile(path.join(root, 'static', 'keys', `${search}.asc`), Buffer.from(await response.arrayBuffer()));
  }
  const port = await freePort();
  const httpPort = await freePort();
  const tls12Ciphers = TLS_PROTOCOL_OPTIONS.ciphers
    .split(':')
    .filter((c) => !c.startsWith('TLS_'))
    .join(':');
  const temp = path.join(root, 'temp');
  const location = `
    location = /pks/lookup {
      root ${path.join(root, 'static')};
      default_type application/pgp-keys;
      try_files /keys/$arg_search.asc =404;
    }`;
  const certificate = options.certificate;
  const httpsServer = certificate
    ? `
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${certificate.certFile};
    ssl_certificate_key ${certificate.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${tls12Ciphers};
    ssl_prefer_server_ciphers off;
    add_header Strict-Transport-Security "max-age=31536000" always;${location}
  }`
    : '';
  const conf = `
worker_processes ${options.workers};
daemon off;
pid ${path.join(root, 'nginx.pid')};
error_log ${path.join(root, 'error.log')} warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 4096; }
http {
  access_log /dev/null;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 5s;
  # As keystore's HTTP listener keeps a connection for many requests (wrk sends thousands on one).
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${httpPort};${location}
  }${httpsServer}
}
`;
  const confFile = path.join(root, 'nginx.conf');
  await writeFile(confFile, conf);
  const child = spawn(NGINX, ['-p', root, '-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!(await listening(httpPort)) || (certificate && !(await listening(port)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${httpPort}`,
    httpsUrl: certificate ? `https://127.0.0.1:${port}` : undefined,
    pid: child.pid!,
    stop: () => stopChild(child, exited),
  };
}

async function listening(port: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGQUIT'); // nginx: graceful stop
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
