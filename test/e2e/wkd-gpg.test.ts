// The real gpg finds a key in keystore's Web Key Directory (gpg --locate-external-keys --auto-key-locate clear,wkd),
// by the advanced method (https://openpgpkey.example.org) and by the direct one (https://example.org) when that name
// does not resolve. dirmngr asks WKD only over HTTPS on port 443, resolves the names itself and trusts only the
// system's CAs there (hkp-cacert is for keyservers), so everything runs in a private network namespace made here:
// keystore serves HTTPS on 127.0.0.1:443 inside it with a test CA's certificate for both names, a stub DNS server
// answers NXDOMAIN on 127.0.0.1:53 (dirmngr's SRV lookup for the direct method needs a definite "no such name"),
// and gpg runs in a mount namespace of its own where /etc/hosts, /etc/resolv.conf and the system CA bundle are bind
// mounts of files made here. Needs root, `ip netns` (iproute2) and `unshare` (util-linux); skipped otherwise.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCa } from '../helpers/tls.js';
import { GpgHome } from './helpers/gpg.js';
import { run, runOk, tempDir } from './helpers/run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NS = `keystore-wkd-${process.pid}`;
const SYSTEM_CAS = '/etc/ssl/certs/ca-certificates.crt';

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, port 443, bind mounts)';
  if (spawnSync('ip', ['netns', 'list'], { timeout: 10_000 }).status !== 0) return '`ip netns` is unavailable';
  if (spawnSync('unshare', ['--mount', 'true'], { timeout: 10_000 }).status !== 0) return '`unshare --mount` is unavailable';
  return undefined;
}
const skipReason = unavailable();
if (skipReason) console.warn(`skipping the gpg WKD test: ${skipReason}`);

// Answers every query NXDOMAIN (the question echoed, no records): names come from /etc/hosts.
const STUB_DNS = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, from) => {
  if (m.length < 12) return;
  let end = 12;
  while (end < m.length && m[end] !== 0) end += m[end] + 1;
  const header = Buffer.from([m[0], m[1], 0x80 | (m[2] & 0x01), 0x83, 0, 1, 0, 0, 0, 0, 0, 0]);
  s.send(Buffer.concat([header, m.subarray(12, end + 5)]), from.port, from.address);
});
s.bind(53, '127.0.0.1', () => console.log('ready'));
`;

/** A child in the namespace, resolved once it printed `ready` (a substring of a line on its stdout). */
async function startInNamespace(args: string[], env: NodeJS.ProcessEnv, ready: string): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn('ip', ['netns', 'exec', NS, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} not ready in 90 s:\n${output}`)), 90_000);
    const read = (text: Buffer) => {
      output += text.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited ${code}:\n${output}`));
    });
  });
  try {
    await started;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { child, output: () => output };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

describe.skipIf(skipReason !== undefined)('gpg finds keys in the Web Key Directory over HTTPS on port 443 (network namespace, PGlite)', () => {
  let ca: TestCa;
  let dir: string;
  let server: { child: ChildProcess; output: () => string } | undefined;
  let dns: { child: ChildProcess } | undefined;
  let namespaceMade = false;
  const homes: GpgHome[] = [];
  let fingerprint: string;

  beforeAll(async () => {
    dir = await tempDir('e2e-wkd-gpg-');
    ca = await TestCa.create();
    const issued = await ca.issue('wkd', { names: 'DNS:example.org, DNS:openpgpkey.example.org' });
    await runOk('ip', ['netns', 'add', NS], { timeoutMs: 10_000 });
    namespaceMade = true;
    await runOk('ip', ['-n', NS, 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
    await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    await writeFile(join(dir, 'hosts-advanced'), '127.0.0.1 localhost\n127.0.0.1 openpgpkey.example.org example.org\n');
    await writeFile(join(dir, 'hosts-direct'), '127.0.0.1 localhost\n127.0.0.1 example.org\n');

    dns = await startInNamespace([process.execPath, '-e', STUB_DNS], process.env, 'ready');
    // PostgreSQL on the host's loopback is out of the namespace's reach: always PGlite in a fresh directory.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '11371',
      HOST: '127.0.0.1',
      HTTPS_PORT: '443',
      TLS_CERT_FILE: issued.certFile,
      TLS_KEY_FILE: issued.keyFile,
      WKD_DOMAINS: 'example.org',
      DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'info',
    };
    delete env['DATABASE_URL'];
    server = await startInNamespace([process.execPath, '--import', 'tsx', 'src/main.ts', 'serve'], env, '"url":"http://127.0.0.1:11371"');

    const owner = await GpgHome.create(0);
    homes.push(owner);
    fingerprint = (await owner.generateKey('Wkd Ann <ann@example.org>')).fingerprint;
    await owner.addUserId(fingerprint, 'Ann Elsewhere <ann@elsewhere.example>');
    const keyFile = join(dir, 'key.asc');
    await writeFile(keyFile, (await owner.gpgOk(['--export', '--armor', fingerprint])).stdout);
    const added = await runOk(
      'ip',
      ['netns', 'exec', NS, 'curl', '-s', '--max-time', '20', '--data-urlencode', `keytext@${keyFile}`, 'http://127.0.0.1:11371/pks/add'],
      { timeoutMs: 30_000 },
    );
    expect(added.stdout).toMatch(/^1 key\(s\) added/);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(homes.splice(0).map((h) => h.close()));
    await stop(server?.child);
    await stop(dns?.child);
    if (namespaceMade) await run('ip', ['netns', 'del', NS], { timeoutMs: 10_000 });
    await ca?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  /** gpg --locate-external-keys with a fresh home, in the namespace, seeing `hosts` and trusting `cas`. */
  async function locate(address: string, hosts: 'advanced' | 'direct', cas = ca.caFile) {
    const home = await GpgHome.create(0);
    homes.push(home);
    await appendFile(join(home.dir, 'dirmngr.conf'), 'standard-resolver\nno-use-tor\n');
    const mounts = 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && mount --bind "$3" "$4" && shift 4 && exec "$@"';
    const result = await run(
      'ip',
      [
        'netns',
        'exec',
        NS,
        'unshare',
        '--mount',
        'sh',
        '-c',
        mounts,
        'sh',
        join(dir, `hosts-${hosts}`),
        join(dir, 'resolv.conf'),
        cas,
        SYSTEM_CAS,
        'gpg',
        '--homedir',
        home.dir,
        '--batch',
        '--no-tty',
        '--auto-key-locate',
        'clear,wkd',
        '--locate-external-keys',
        address,
      ],
      { timeoutMs: 40_000 },
    );
    return { ...result, home };
  }

  /** How many requests keystore logged for a WKD route (by its pattern) with status 200. */
  function wkdRequests(pattern: string): number {
    return server!
      .output()
      .split('\n')
      .filter((line) => line.includes(`"path":"${pattern}","status":200`)).length;
  }

  /** keystore logs a request after answering it: gpg may be done before the line is written. */
  async function expectRequests(pattern: string, count: number): Promise<void> {
    for (let waited = 0; wkdRequests(pattern) < count && waited < 5000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    expect(wkdRequests(pattern)).toBe(count);
  }

  it("advanced method: imports the key with only the address's user ID", { timeout: 60_000 }, async () => {
    const before = wkdRequests('/.well-known/openpgpkey/:domain/hu/:hash');
    const found = await locate('ann@example.org', 'advanced');
    expect(found.code, found.stderr).toBe(0);
    const key = await found.home.listKey(fingerprint);
    expect(key?.uids).toEqual(['Wkd Ann <ann@example.org>']);
    await expectRequests('/.well-known/openpgpkey/:domain/hu/:hash', before + 1);
  });

  it('direct method when openpgpkey.example.org does not resolve', { timeout: 60_000 }, async () => {
    const before = wkdRequests('/.well-known/openpgpkey/hu/:hash');
    const advanced = wkdRequests('/.well-known/openpgpkey/:domain/hu/:hash');
    const found = await locate('ann@example.org', 'direct');
    expect(found.code, found.stderr).toBe(0);
    expect((await found.home.listKey(fingerprint))?.uids).toEqual(['Wkd Ann <ann@example.org>']);
    await expectRequests('/.well-known/openpgpkey/hu/:hash', before + 1);
    expect(wkdRequests('/.well-known/openpgpkey/:domain/hu/:hash')).toBe(advanced);
  });

  it('finds nothing for an address without a key, and refuses a server whose CA it does not trust', { timeout: 60_000 }, async () => {
    const missing = await locate('nobody@example.org', 'advanced');
    expect(missing.code).not.toBe(0);
    expect(await missing.home.listKeys()).toEqual([]);
    const untrusting = await locate('ann@example.org', 'advanced', SYSTEM_CAS);
    expect(untrusting.code).not.toBe(0);
    expect(await untrusting.home.listKey(fingerprint)).toBeUndefined();
  });
});
