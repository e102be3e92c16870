// A throwaway certificate authority made with the openssl binary: P-256 keys (fast), a CA certificate and server
// certificates for localhost and 127.0.0.1 with chosen validity, as an internal CA would issue them.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  await execFileAsync('openssl', args, { cwd, timeout: 20_000 });
}

/** openssl's date form for -startdate/-enddate: YYYYMMDDHHMMSSZ. */
function asn1Time(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export interface IssuedCertificate {
  /** The server's certificate then the CA's (what TLS_CERT_FILE holds). */
  certFile: string;
  keyFile: string;
  /** The server's certificate alone. */
  leafFile: string;
}

export interface IssueOptions {
  /** Default: an hour ago. */
  notBefore?: Date;
  /** Default: thirty days from now (past the 14 days of the expiry warning). */
  notAfter?: Date;
  /** Subject alternative names; default localhost (also as "localhost.", the name dirmngr can check) and 127.0.0.1. */
  names?: string;
}

export class TestCa {
  private issued = 0;
  private constructor(
    readonly dir: string,
    readonly caFile: string,
  ) {}

  static async create(name = 'keystore test CA'): Promise<TestCa> {
    const dir = await mkdtemp(join(tmpdir(), 'keystore-test-ca-'));
    await mkdir(join(dir, 'issued'));
    await writeFile(join(dir, 'index.txt'), '');
    await writeFile(join(dir, 'serial'), '1000\n');
    await writeFile(
      join(dir, 'ca.cnf'),
      [
        '[ca]',
        'default_ca = test',
        '[test]',
        `dir = ${dir}`,
        'database = $dir/index.txt',
        'new_certs_dir = $dir/issued',
        'serial = $dir/serial',
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        'copy_extensions = none',
        '[any]',
        'commonName = supplied',
        '[leaf]',
        'basicConstraints = CA:FALSE',
        'keyUsage = critical, digitalSignature',
        'extendedKeyUsage = serverAuth',
        'subjectAltName = $ENV::SAN',
        '',
      ].join('\n'),
    );
    await openssl(
      [
        'req',
        '-x509',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-days',
        '60',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    return new TestCa(dir, join(dir, 'ca.pem'));
  }

  /** A new key and a certificate for it signed by this CA, in files of their own. */
  async issue(label: string, options: IssueOptions = {}): Promise<IssuedCertificate> {
    const n = ++this.issued;
    const base = join(this.dir, `${label}-${n}`);
    await openssl(
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.csr`,
        '-subj',
        '/CN=localhost',
      ],
      this.dir,
    );
    const notBefore = options.notBefore ?? new Date(Date.now() - 3600_000);
    const notAfter = options.notAfter ?? new Date(Date.now() + 30 * 86_400_000);
    await execFileAsync(
      'openssl',
      [
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-extensions',
        'leaf',
        '-cert',
        'ca.pem',
        '-keyfile',
        'ca.key',
        '-in',
        `${base}.csr`,
        '-out',
        `${base}.leaf.pem`,
        '-notext',
        '-startdate',
        asn1Time(notBefore),
        '-enddate',
        asn1Time(notAfter),
      ],
      {
        cwd: this.dir,
        timeout: 20_000,
        env: { ...process.env, SAN: options.names ?? 'DNS:localhost, DNS:localhost., IP:127.0.0.1' },
      },
    );
    await writeFile(`${base}.pem`, Buffer.concat([await readFile(`${base}.leaf.pem`), await readFile(this.caFile)]));
    return { certFile: `${base}.pem`, keyFile: `${base}.key`, leafFile: `${base}.leaf.pem` };
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
