// A stand-in for SingularityCE 4.x's key commands (`singularity key push|pull|search`, `verify`,
// `remote status`), sending exactly the requests its keyserver client (sylabs/scs-key-client) sends and
// reading the answers as strictly as it does. See docs/hkp-clients.md.
import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';

/** A non-2xx answer, as scs-key-client's HTTPError: the status plus the message of a JSON error body. */
export class SingularityHttpError extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly serverMessage: string | undefined,
  ) {
    super(serverMessage === undefined ? `${status} ${statusText}` : `${status} ${statusText}: ${serverMessage}`);
    this.name = 'SingularityHttpError';
  }
}

export interface SearchResult {
  /** The machine-readable body as received. */
  body: string;
  /** Number of keys, checked against `info:1:N` as SingularityCE does. */
  count: number;
  /** What `singularity key search` prints (with `-l` when long). */
  output: string;
  nextPageToken: string | null;
}

export interface PushOptions {
  /** Send no Authorization header at all (the default is a bare `Bearer` when no token is given). */
  omitAuthorization?: boolean;
}

const USER_AGENT = 'singularity/4.1.0 (Linux x86_64) Go/1.22.0';
const TIMEOUT_MS = 5_000;

export class SingularityClient {
  /** `fetch`: e.g. one trusting a test CA (helpers/httpsFetch.ts), as Singularity trusts the system's CAs. */
  constructor(
    readonly baseUrl: string,
    private readonly fetch: typeof globalThis.fetch = globalThis.fetch,
  ) {}

  private async request(method: string, path: string, query: Record<string, string>, init: { body?: string; headers?: Record<string, string> } = {}) {
    const url = new URL(path, this.baseUrl);
    url.search = encodeQuery(query);
    const res = await this.fetch(url, {
      method,
      headers: { 'user-agent': USER_AGENT, 'accept-encoding': 'gzip', ...(init.headers ?? {}) },
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    if (Math.floor(res.status / 100) !== 2) throw new SingularityHttpError(res.status, res.statusText, jsonErrorMessage(text));
    return { res, text };
  }

  /** `singularity key push`: urlencoded keytext (armor without its trailing newline), any 2xx is success. */
  async push(armored: string, token?: string, options: PushOptions = {}): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (!options.omitAuthorization) headers['authorization'] = token ? `Bearer ${token}` : 'Bearer';
    const keytext = armored.replace(/\n+$/, '');
    const { res, text } = await this.request('POST', '/pks/add', {}, { body: encodeQuery({ keytext }), headers });
    return { status: res.status, body: text };
  }

  /** `singularity key pull HEX` (8 or 40 hex digits): exactly one key must come back. */
  async pull(hex: string): Promise<openpgp.PublicKey> {
    if (!/^([0-9a-fA-F]{8}|[0-9a-fA-F]{40})$/.test(hex)) throw new Error('not a valid key length: only accepts 8, or 40 chars');
    const keys = await this.getKeys(`0x${hex.toLowerCase()}`);
    if (keys.length > 1) throw new Error('server returned more than one key for unique fingerprint');
    return keys[0]!;
  }

  /**
   * `singularity verify` fetching an unknown signer: the issuer key ID printed with Go's %#x of a uint64,
   * so without leading zeros (a key ID starting with 0 arrives as 0x + 15 or fewer digits).
   */
  async verifyLookup(keyIdHex: string): Promise<openpgp.PublicKey[]> {
    return this.getKeys(verifySearchOf(keyIdHex));
  }

  private async getKeys(search: string): Promise<openpgp.PublicKey[]> {
    const { text } = await this.request('GET', '/pks/lookup', { exact: 'on', op: 'get', search });
    // Go's ReadArmoredKeyRing, like openpgp.readKeys, reads the first armor block only.
    const keys = await openpgp.readKeys({ armoredKeys: text });
    if (keys.length === 0) throw new Error('no keys in keyring');
    return keys;
  }

  /** `singularity key search [-l] TERM`. */
  async search(term: string, long = false): Promise<SearchResult> {
    const search = /^[0-9A-F]{8,}$/.test(term) ? `0x${term}` : term;
    const { res, text } = await this.request('GET', '/pks/lookup', {
      fingerprint: 'on',
      op: 'index',
      options: 'mr',
      search,
      'x-pagesize': '256',
    });
    const { count, output } = formatMROutput(text, long);
    return { body: text, count, output: `Showing ${count} results\n\n${output}`, nextPageToken: res.headers.get('x-hkp-next-page-token') };
  }

  /**
   * `singularity remote add NAME HOST` + `remote login` (internal/pkg/remote/endpoint GetAllServices and
   * VerifyToken): read the remote's configuration document, then check the token at the token service's
   * /v1/token-status. Answers the services by name (keystoreAPI is the `keyserver`); fails as Singularity does.
   */
  async remoteLogin(token: string): Promise<Map<string, string>> {
    const res = await this.fetch(new URL('/assets/config/config.prod.json', this.baseUrl), {
      headers: { 'user-agent': USER_AGENT },
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200) throw new Error('error response from server: <nil>');
    const document: unknown = JSON.parse(await res.text());
    // Go decodes it into map[string]map[string]interface{}: every top-level value must be an object.
    if (!isObject(document) || !Object.values(document).every(isObject)) throw new Error('jsonresp: failed to unmarshal response');
    const services = new Map<string, string>();
    for (const [name, value] of Object.entries(document as Record<string, Record<string, unknown>>)) {
      const uri = value['uri'];
      if (typeof uri !== 'string') continue;
      const service = name.replace(/API$/, '');
      services.set(service === 'keystore' ? 'keyserver' : service, uri);
    }
    const tokenService = services.get('token');
    if (!tokenService) throw new Error('no authentication service found');
    const check = await this.fetch(`${tokenService}/v1/token-status`, {
      headers: { authorization: `Bearer ${token}`, 'user-agent': USER_AGENT },
      signal: AbortSignal.timeout(10_000),
    });
    await check.text();
    if (check.status !== 200) {
      const words: Record<number, string> = { 404: 'Invalid Credentials', 500: 'Internal Server Error' };
      throw new Error(`error response from server: ${words[check.status] ?? 'Unknown'}`);
    }
    return services;
  }

  /** `singularity remote login --tokenfile FILE`: the token as auth.ReadToken reads it, then as remoteLogin. */
  async remoteLoginWithTokenFile(path: string): Promise<{ token: string; services: Map<string, string> }> {
    const token = await readTokenFile(path);
    return { token, services: await this.remoteLogin(token) };
  }

  /** `singularity keyserver login URL`: GET the keyserver URL with the token; anything but 200 fails. */
  async keyserverLogin(token: string): Promise<void> {
    const res = await this.fetch(this.baseUrl, {
      headers: { authorization: `Bearer ${token}`, 'user-agent': USER_AGENT },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.text();
    if (res.status !== 200) throw new Error(`error response from server: ${res.status} ${res.statusText}`);
  }

  /** `singularity remote status`: GET /version, {"data":{"version":"x.y.z"}}. */
  async remoteStatus(): Promise<string> {
    const { text } = await this.request('GET', '/version', {});
    const version = (JSON.parse(text) as { data?: { version?: unknown } }).data?.version;
    if (typeof version !== 'string' || version === '') throw new Error(`no version in ${text}`);
    return version;
  }
}

/**
 * SingularityCE's auth.ReadToken (internal/pkg/util/auth/token.go), used by `remote login --tokenfile`: the first
 * line of the file is the token, refused when shorter than 200 or longer than 4096 bytes.
 */
export async function readTokenFile(path: string): Promise<string> {
  const buffer = await readFile(path).catch(() => {
    throw new Error('authentication token file not found');
  });
  const token = buffer.toString('utf8').split('\n')[0]!;
  const bytes = Buffer.byteLength(token, 'utf8');
  if (bytes < 200) throw new Error('token is too short to be valid');
  if (bytes > 4096) throw new Error('token is too large to be valid');
  return token;
}

export function verifySearchOf(keyIdHex: string): string {
  return `0x${BigInt(`0x${keyIdHex}`).toString(16)}`;
}

/** Go's url.Values.Encode: keys sorted, QueryEscape (space as +, everything but [A-Za-z0-9-_.~] as %XX). */
export function encodeQuery(values: Record<string, string>): string {
  return Object.keys(values)
    .sort()
    .map((k) => `${queryEscape(k)}=${queryEscape(values[k]!)}`)
    .join('&');
}

function queryEscape(s: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** github.com/sylabs/json-resp ReadError: {"error":{"code":N,"message":"..."}}. */
function jsonErrorMessage(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    return typeof parsed.error?.message === 'string' ? parsed.error.message : undefined;
  } catch {
    return undefined;
  }
}

/** Go's url.QueryUnescape: `+` is a space, `%XX` a byte; a bad escape is an error (the caller keeps the raw text). */
function queryUnescape(s: string): string {
  if (/%(?![0-9a-fA-F]{2})/.test(s)) throw new Error(`invalid URL escape in ${JSON.stringify(s)}`);
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === '+') bytes.push(0x20);
    else bytes.push(...new TextEncoder().encode(c));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** SingularityCE's getEncryptionAlgorithmName: note that it has no name for EdDSA (22). */
function algorithmName(field: string): string {
  if (!/^[+-]?\d+$/.test(field)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(field)}: invalid syntax`);
  switch (Number(field)) {
    case 1:
    case 2:
    case 3:
      return 'RSA';
    case 16:
      return 'Elgamal';
    case 17:
      return 'DSA';
    case 18:
      return 'Elliptic Curve';
    case 19:
      return 'ECDSA';
    case 20:
      return 'Reserved';
    case 21:
      return 'Diffie-Hellman';
    default:
      return 'unknown';
  }
}

/** SingularityCE's date(): empty is `[ultimate]`; else Go's time.Time.String(), here in UTC. */
export function goDate(field: string): string {
  if (field === '') return '[ultimate]';
  if (field === 'none') return field;
  const n = /^[+-]?\d+$/.test(field) ? Number(field) : 0;
  const d = new Date(n * 1000);
  const p = (x: number) => String(x).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`;
}

/**
 * SingularityCE's formatMROutput (internal/pkg/sypgp), made strict where the Go code would crash or fail:
 * `info:1:N` must be present and N must equal the number of pub lines; pub lines need exactly 7 fields.
 */
export function formatMROutput(mr: string, long: boolean): { count: number; output: string } {
  let count = 0;
  let numKeys: number | undefined;
  const tw = new TabWriter(2);
  const longFmt = (...cells: string[]) => tw.write(cells.map((c) => `${c}\t`).join(''));
  const shortFmt = (...cells: string[]) => tw.write(cells.map((c) => `${c}\t`).join(''));
  if (long) longFmt('FINGERPRINT', 'ALGORITHM', 'BITS', 'CREATION DATE', 'EXPIRATION DATE', 'STATUS');
  else shortFmt('KEY ID', 'BITS');
  tw.write('NAME/EMAIL\n');

  let first = true;
  let gotName = false;
  for (const line of mr.split('\n')) {
    const fields = line.trim().split(':');
    switch (fields[0]) {
      case 'info': {
        if (fields.length < 3 || !/^[+-]?\d+$/.test(fields[2]!)) throw new Error('unable to check number of keys');
        numKeys = Number(fields[2]);
        break;
      }
      case 'pub': {
        if (fields.length !== 7) throw new Error(`pub line needs exactly 7 fields, got ${fields.length}: ${line}`);
        if (!first) {
          if (!gotName) tw.write('\n');
          tw.write('\n');
        }
        first = false;
        gotName = false;
        const fingerprint = fields[1]!;
        const bits = fields[3]!;
        if (long) {
          const status = fields[6] === 'r' ? '[revoked]' : fields[6] === 'd' ? '[disabled]' : fields[6] === 'e' ? '[expired]' : '[enabled]';
          longFmt(fingerprint, algorithmName(fields[2]!), bits, goDate(fields[4]!), goDate(fields[5]!), status);
        } else {
          if (fingerprint.length < 8) throw new Error(`slice bounds out of range: fingerprint ${JSON.stringify(fingerprint)}`);
          shortFmt(fingerprint.slice(fingerprint.length - 8), bits);
        }
        count++;
        break;
      }
      case 'uid': {
        if (!gotName) gotName = true;
        else if (long) longFmt('', '', '', '', '', '');
        else shortFmt('', '');
        const raw = fields[1] ?? '';
        let name: string;
        try {
          name = queryUnescape(raw);
        } catch {
          name = raw;
        }
        tw.write(`${name}\n`);
        break;
      }
    }
  }
  if (numKeys === undefined) throw new Error('no info:1:N line: failed to convert machine readable to human readable output correctly');
  if (numKeys > 0 && !gotName) tw.write('\n');
  const output = tw.flush();
  if (count !== numKeys) {
    throw new Error(`expecting ${numKeys}, got ${count}: failed to convert machine readable to human readable output correctly`);
  }
  return { count, output };
}

/**
 * The part of Go's text/tabwriter that SingularityCE uses (minwidth 0, tabwidth 0, padding 2, pad ' ', no
 * flags): tab-terminated cells are aligned in column blocks of consecutive lines; the text after the last tab
 * of a line is not a column cell.
 */
class TabWriter {
  private text = '';
  constructor(private readonly padding: number) {}

  write(s: string) {
    this.text += s;
  }

  flush(): string {
    const lines = this.text.split('\n');
    const trailingNewline = lines[lines.length - 1] === '';
    if (trailingNewline) lines.pop();
    const cells = lines.map((l) => l.split('\t'));
    const out: string[] = [];
    const widths: number[] = [];
    const width = (s: string) => [...s].length;
    const writeLines = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const line = cells[i]!;
        let s = '';
        line.forEach((c, j) => {
          s += c;
          if (j < widths.length && j < line.length - 1) s += ' '.repeat(Math.max(0, widths[j]! - width(c)));
        });
        out.push(s);
      }
    };
    const format = (line0: number, line1: number) => {
      const column = widths.length;
      for (let t = line0; t < line1; t++) {
        if (column >= cells[t]!.length - 1) continue;
        writeLines(line0, t);
        line0 = t;
        let w = 0;
        for (; t < line1; t++) {
          const line = cells[t]!;
          if (column >= line.length - 1) break;
          w = Math.max(w, width(line[column]!) + this.padding);
        }
        widths.push(w);
        format(line0, t);
        widths.pop();
        line0 = t;
      }
      writeLines(line0, line1);
    };
    format(0, cells.length);
    return out.join('\n') + (trailingNewline ? '\n' : '');
  }
}
