// A throwaway GnuPG home that talks to one keyserver: every gpg call gets --homedir, --batch and --keyserver.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, tempDir, type RunOptions, type RunResult } from './run.js';

export interface ColonKey {
  /** Fields of the `pub` line (field 2, index 1, is the validity: `r` once revoked). */
  pub: string[];
  fingerprint: string;
  /** User ID strings, as gpg prints them in field 10 (`\x3a` escapes for colons). */
  uids: string[];
  /** `uid` lines' fields. */
  uidLines: string[][];
  subkeys: { fields: string[]; keyId: string; fingerprint: string | undefined }[];
}

export class GpgHome {
  private constructor(
    readonly dir: string,
    readonly keyserver: string,
  ) {}

  /**
   * With `hkps`, the keyserver is hkps://localhost.:PORT, and with `caFile` dirmngr trusts that CA (its hkp-cacert
   * option). dirmngr checks the certificate only against a host name with a dot in it: "localhost." is one.
   */
  static async create(port: number, options: { hkps?: boolean; caFile?: string } = {}): Promise<GpgHome> {
    const dir = await tempDir('e2e-gnupg-');
    const keyserver = options.hkps || options.caFile ? `hkps://localhost.:${port}` : `hkp://127.0.0.1:${port}`;
    const cacert = options.caFile ? `hkp-cacert ${options.caFile}\n` : '';
    await writeFile(join(dir, 'dirmngr.conf'), `keyserver ${keyserver}\n${cacert}`, { mode: 0o600 });
    // Keep gpg quiet and deterministic: no trustdb prompts, no auto-key-retrieve.
    await writeFile(join(dir, 'gpg.conf'), 'trust-model always\n', { mode: 0o600 });
    return new GpgHome(dir, keyserver);
  }

  /** gpg with this home, --batch and this keyserver; never throws for a non-zero exit. */
  gpg(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return run('gpg', ['--homedir', this.dir, '--batch', '--no-tty', '--keyserver', this.keyserver, ...args], options);
  }

  /** gpg, throwing with its output when it exits non-zero. */
  async gpgOk(args: string[], options: RunOptions = {}): Promise<RunResult> {
    const result = await this.gpg(args, options);
    if (result.code !== 0) {
      throw new Error(`gpg ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    }
    return result;
  }

  /** Makes an ed25519 signing key with a cv25519 encryption subkey; returns both fingerprints. */
  async generateKey(userId: string): Promise<{ fingerprint: string; encryptionSubkey: string }> {
    const made = await this.gpgOk([
      '--passphrase',
      '',
      '--pinentry-mode',
      'loopback',
      '--status-fd',
      '1',
      '--quick-gen-key',
      userId,
      'ed25519',
      'cert,sign',
      'never',
    ]);
    const created = /KEY_CREATED \w ([0-9A-F]{40})/.exec(made.stdout);
    if (!created) throw new Error(`no KEY_CREATED in gpg output: ${made.stdout}\n${made.stderr}`);
    const fingerprint = created[1]!;
    await this.gpgOk(['--passphrase', '', '--pinentry-mode', 'loopback', '--quick-add-key', fingerprint, 'cv25519', 'encr', 'never']);
    const key = await this.listKey(fingerprint);
    const sub = key?.subkeys[0]?.fingerprint;
    if (!sub) throw new Error(`no encryption subkey on ${fingerprint}`);
    return { fingerprint, encryptionSubkey: sub };
  }

  async addUserId(fingerprint: string, userId: string): Promise<void> {
    await this.gpgOk(['--passphrase', '', '--pinentry-mode', 'loopback', '--quick-add-uid', fingerprint, userId]);
  }

  /** Imports the revocation certificate gpg wrote at key generation, as its header tells the user to. */
  async importRevocation(fingerprint: string): Promise<void> {
    const text = await readFile(join(this.dir, 'openpgp-revocs.d', `${fingerprint}.rev`), 'utf8');
    const file = join(this.dir, 'revocation.asc');
    await writeFile(file, text.replace(/^:-----BEGIN/m, '-----BEGIN'));
    await this.gpgOk(['--import', file]);
  }

  /** The keys of the public keyring, parsed from --with-colons output. */
  async listKeys(): Promise<ColonKey[]> {
    const result = await this.gpg(['--with-colons', '--with-subkey-fingerprint', '--list-keys']);
    // An empty keyring exits 0 with no output (or 2 when the keybox does not exist yet).
    return parseColonListing(result.stdout);
  }

  async listKey(fingerprint: string): Promise<ColonKey | undefined> {
    return (await this.listKeys()).find((k) => k.fingerprint === fingerprint);
  }

  /** Stops the dirmngr and gpg-agent of this home and removes it. */
  async close(): Promise<void> {
    for (const args of [
      ['--kill', 'dirmngr'],
      ['--kill', 'gpg-agent'],
    ]) {
      await run('gpgconf', ['--homedir', this.dir, ...args], { timeoutMs: 15_000 }).catch(() => undefined);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function parseColonListing(text: string): ColonKey[] {
  const keys: ColonKey[] = [];
  let current: ColonKey | undefined;
  let last: 'pub' | 'sub' | 'other' = 'other';
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    switch (fields[0]) {
      case 'pub':
        current = { pub: fields, fingerprint: '', uids: [], uidLines: [], subkeys: [] };
        keys.push(current);
        last = 'pub';
        break;
      case 'fpr':
        if (!current) break;
        if (last === 'pub' && !current.fingerprint) current.fingerprint = fields[9] ?? '';
        else if (last === 'sub') {
          const sub = current.subkeys[current.subkeys.length - 1];
          if (sub && !sub.fingerprint) sub.fingerprint = fields[9];
        }
        break;
      case 'uid':
        current?.uids.push(fields[9] ?? '');
        current?.uidLines.push(fields);
        last = 'other';
        break;
      case 'sub':
        current?.subkeys.push({ fields, keyId: fields[4] ?? '', fingerprint: undefined });
        last = 'sub';
        break;
      default:
        if (fields[0] !== 'grp') last = 'other';
    }
  }
  return keys;
}
