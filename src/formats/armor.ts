// ASCII armor (RFC 9580 §6): decode every block of a text, encode one block. Pure.

export interface ArmorBlock {
  /** The word(s) after "BEGIN PGP", e.g. "PUBLIC KEY BLOCK". */
  type: string;
  data: Uint8Array;
}

export interface ArmorDecodeResult {
  blocks: ArmorBlock[];
  /** One message per block that could not be decoded. */
  errors: string[];
}

const BEGIN = /^-----BEGIN PGP ([A-Z0-9 ,/]+)-----$/;
const END = /^-----END PGP ([A-Z0-9 ,/]+)-----$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

export function looksArmored(text: string): boolean {
  return text.includes('-----BEGIN PGP ');
}

/** Decodes all armor blocks found in text (a form field may hold several, one after another). */
export function decodeArmor(text: string): ArmorDecodeResult {
  const lines = text.split(/\r?\n|\r/).map((l) => l.trim());
  const blocks: ArmorBlock[] = [];
  const errors: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const begin = BEGIN.exec(lines[i]!);
    if (!begin) {
      i++;
      continue;
    }
    const type = begin[1]!;
    i++;
    // Armor headers ("Key: value") run until the first empty line; tolerate a missing blank line.
    while (i < lines.length && /^[A-Za-z][A-Za-z0-9-]*:( |$)/.test(lines[i]!)) i++;
    if (i < lines.length && lines[i] === '') i++;
    const body: string[] = [];
    let checksum: string | null = null;
    let ended = false;
    let bad: string | null = null;
    for (; i < lines.length; i++) {
      const line = lines[i]!;
      if (END.test(line)) {
        ended = true;
        i++;
        break;
      }
      // A new block before this one ended: this one was truncated; the outer loop reads the next.
      if (BEGIN.test(line)) break;
      if (line === '') continue;
      if (line.startsWith('=') && line.length === 5) {
        checksum = line.slice(1);
        continue;
      }
      if (!BASE64_LINE.test(line)) bad ??= 'invalid base64 in armor';
      body.push(line);
    }
    if (!ended) {
      errors.push(`armored ${type.toLowerCase()} has no END line (truncated?)`);
      continue;
    }
    if (bad) {
      errors.push(bad);
      continue;
    }
    const joined = body.join('');
    if (joined.length % 4 === 1 || /=[^=]/.test(joined)) {
      errors.push('invalid base64 in armor');
      continue;
    }
    const data = new Uint8Array(Buffer.from(joined, 'base64'));
    if (checksum !== null) {
      const expected = Buffer.from(checksum, 'base64');
      const crc = crc24(data);
      if (expected.length !== 3 || expected[0] !== crc >>> 16 || expected[1] !== ((crc >>> 8) & 0xff) || expected[2] !== (crc & 0xff)) {
        errors.push('armor checksum mismatch (corrupted data)');
        continue;
      }
    }
    blocks.push({ type, data });
  }
  return { blocks, errors };
}

/** Encodes bytes as one "PGP PUBLIC KEY BLOCK", ending with a newline. */
export function encodeArmor(data: Uint8Array, type = 'PUBLIC KEY BLOCK'): string {
  const b64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  const crc = crc24(data);
  const parts: string[] = [`-----BEGIN PGP ${type}-----`, ''];
  for (let at = 0; at < b64.length; at += 64) parts.push(b64.slice(at, at + 64));
  parts.push('=' + Buffer.from([crc >>> 16, (crc >>> 8) & 0xff, crc & 0xff]).toString('base64'));
  parts.push(`-----END PGP ${type}-----`, '');
  return parts.join('\n');
}

const CRC24_POLY = 0x1864cfb;

/** The CRC register after `bits` zero bits are shifted through it (bit by bit: only used to build the tables). */
function shiftZeros(register: number, bits: number): number {
  for (let k = 0; k < bits; k++) {
    register <<= 1;
    if (register & 0x1000000) register ^= CRC24_POLY;
  }
  return register & 0xffffff;
}

// Slicing by 6: the register after 48 bits, split by the byte of the register (or of the input) each bit came from.
// TABLES[k][i]: byte i at bit offset 8*k of a 48-bit window (k = 5 is the register's top byte), shifted out.
const TABLES = Array.from({ length: 6 }, (_, k) => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) table[i] = k >= 3 ? shiftZeros(shiftZeros(i << (8 * (k - 3)), 24), 24) : shiftZeros(i << (8 * k), 24);
  return table;
});
const [T0, T1, T2, T3, T4, T5] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
const BYTE_TABLE = (() => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) table[i] = shiftZeros(i << 16, 8);
  return table;
})();

/** CRC-24 of data; pass the previous result as `crc` to continue over data read in parts. */
export function crc24(data: Uint8Array, crc = 0xb704ce): number {
  let i = 0;
  // Six bytes at a time: the first three are XORed into the register, the next three ride behind them.
  for (const end = data.length - 5; i < end; i += 6) {
    const r = crc ^ ((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    crc = T5[r >>> 16]! ^ T4[(r >>> 8) & 0xff]! ^ T3[r & 0xff]! ^ T2[data[i + 3]!]! ^ T1[data[i + 4]!]! ^ T0[data[i + 5]!]!;
  }
  for (; i < data.length; i++) {
    crc = ((crc << 8) ^ BYTE_TABLE[((crc >> 16) ^ data[i]!) & 0xff]!) & 0xffffff;
  }
  return crc;
}
