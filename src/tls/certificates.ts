// The server's certificate and private key (TLS_CERT_FILE, TLS_KEY_FILE): read and checked before they are used,
// at start (a bad pair stops the server with one message naming the variable) and at every reload (a bad new pair
// is refused and the one in use stays). See docs/https.md.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError } from '../config.js';

/** A certificate this close to its end is served with a warning at start and at each reload. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

/**
 * TLS 1.2 and 1.3 only; for 1.2 only forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305, as
 * Mozilla's "intermediate" profile without the DHE suites, which would need DH parameters). The client picks among
 * them: all are strong, and a client without AES hardware prefers ChaCha20.
 */
export const TLS_PROTOCOL_OPTIONS = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: false,
} as const satisfies SecureContextOptions;

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

/** A checked pair, ready for tls: the PEM texts as read, and what the log says about them. */
export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
  subject: string;
  /** The leaf's subject alternative names, as X509Certificate prints them. */
  names: string | undefined;
  notAfter: Date;
  /** SHA-256 fingerprint of the leaf. */
  fingerprint: string;
  /** Things worth a warning line: the certificate expires soon, or is not valid yet. */
  warnings: string[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads and checks the pair: readable files, PEM certificates (the server's first, then its chain), an unencrypted
 * private key that belongs to the first certificate, which has not expired. Throws a ConfigError naming the variable.
 */
export async function loadCertificatePair(files: CertificateFiles, now = new Date()): Promise<CertificatePair> {
  const cert = await readSetting('TLS_CERT_FILE', files.certFile);
  const key = await readSetting('TLS_KEY_FILE', files.keyFile);
  return checkCertificatePair(files, cert, key, now);
}

/** The checks of loadCertificatePair on texts already read (`files` only names them in messages). */
export function checkCertificatePair(files: CertificateFiles, cert: Buffer, key: Buffer, now = new Date()): CertificatePair {
  const invalidCert = (why: string) => new ConfigError(`invalid TLS_CERT_FILE=${JSON.stringify(files.certFile)}: ${why}`);
  const invalidKey = (why: string) => new ConfigError(`invalid TLS_KEY_FILE=${JSON.stringify(files.keyFile)}: ${why}`);
  const blocks = cert.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw invalidCert('holds no PEM certificate ("-----BEGIN CERTIFICATE-----")');
  const chain = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw invalidCert(`certificate ${i + 1} of ${blocks.length} is not a readable X.509 certificate`);
    }
  });
  const leaf = chain[0]!;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw invalidKey('holds no readable private key (a PEM "PRIVATE KEY" block, not encrypted with a passphrase)');
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    const owner = chain.findIndex((c) => c.checkPrivateKey(privateKey));
    throw invalidKey(
      owner > 0
        ? `the key belongs to certificate ${owner + 1} of ${chain.length} in TLS_CERT_FILE, not the first: that file must hold the server's certificate first, then its chain`
        : `the key does not belong to the first certificate of TLS_CERT_FILE (${leaf.subject.replace(/\n/g, ', ')})`,
    );
  }
  const notAfter = new Date(leaf.validTo);
  const notBefore = new Date(leaf.validFrom);
  if (notAfter.getTime() <= now.getTime())
    throw invalidCert(`the certificate (${leaf.subject.replace(/\n/g, ', ')}) expired on ${notAfter.toISOString()}`);
  const warnings: string[] = [];
  const daysLeft = (notAfter.getTime() - now.getTime()) / DAY_MS;
  if (daysLeft < EXPIRY_WARNING_DAYS)
    warnings.push(`the certificate in TLS_CERT_FILE expires in ${daysLeft.toFixed(1)} days, on ${notAfter.toISOString()}: renew it`);
  // Not an error: a certificate issued a moment ago on a machine whose clock is slightly behind.
  if (notBefore.getTime() > now.getTime())
    warnings.push(`the certificate in TLS_CERT_FILE is not valid before ${notBefore.toISOString()}: clients will refuse it until then`);
  try {
    // What OpenSSL itself refuses (e.g. a key too weak for its security level).
    createSecureContext({ ...TLS_PROTOCOL_OPTIONS, cert, key });
  } catch (e) {
    throw invalidCert(`TLS cannot use this certificate and key: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { cert, key, subject: leaf.subject.replace(/\n/g, ', '), names: leaf.subjectAltName, notAfter, fingerprint: leaf.fingerprint256, warnings };
}

async function readSetting(name: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'not readable by this user (permission denied)'
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : `cannot be read (${code ?? 'error'})`;
    throw new ConfigError(`invalid ${name}=${JSON.stringify(file)}: ${why}`);
  }
}
