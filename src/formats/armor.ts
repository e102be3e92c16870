// ASCII armor (RFC 9580 §6): decode every block of a text, encode one block. Pure.
import { ArmorStreamDecoder, BEGIN, END, HEADER, MAX_LINE, checksumMatches } from './armorStream.js';
import { crc24 } from './crc24.js';

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

export function looksArmored(text: string): boolean {
  return text.includes('-----BEGIN PGP ');
}

/** Decodes all armor blocks found in text (a form field may hold several, one after another). */
export function decodeArmor(text: string): ArmorDecodeResult {
  const single = decodeSingleBlock(text);
  return single ? { blocks: [single], errors: [] } : decodeArmorStreaming(text);
}

/** decodeArmor by the streaming decoder, fed the text at once: the one that has the last word on every text. */
export function decodeArmorStreaming(text: string): ArmorDecodeResult {
  const decoder = new ArmorStreamDecoder();
  const blocks: ArmorBlock[] = [];
  const errors: string[] = [];
  let current: { type: string; parts: Uint8Array[] } | null = null;
  for (const event of [...decoder.push(text), ...decoder.end()]) {
    if (event.kind === 'begin') current = { type: event.type, parts: [] };
    else if (event.kind === 'data') current?.parts.push(event.bytes);
    else if (current) {
      if (event.error) errors.push(event.error);
      else blocks.push({ type: current.type, data: new Uint8Array(Buffer.concat(current.parts)) });
      current = null;
    }
  }
  return { blocks, errors };
}

const BEGIN_MARK = '-----BEGIN PGP ';
const END_MARK = '\n-----END PGP ';
// Base64 data lines: only these characters, with the padding ("=" or "==") at the very end alone.
const NOT_BASE64_LINES = /[^A-Za-z0-9+/\n=]/;
const PADDING_TAIL = /^={1,2}\n*$/;

/**
 * The one block of a text as a client writes it (the usual upload), decoded at once: the BEGIN line at the start of
 * a line, headers, base64 lines with no other character (blank lines allowed), the padding last, a checksum line
 * that matches or none, the END line right after; no CR, no other BEGIN after it. Exactly what the streaming
 * decoder gives such a text, at a fraction of its cost per line; null for any other text (theirs to decode).
 */
export function decodeSingleBlock(text: string): ArmorBlock | null {
  const begin = text.indexOf(BEGIN_MARK);
  if (begin < 0 || (begin > 0 && text[begin - 1] !== '\n') || text.includes('\r')) return null;
  let at = text.indexOf('\n', begin) + 1;
  const type = at > 0 ? BEGIN.exec(text.slice(begin, at - 1))?.[1] : undefined;
  if (type === undefined) return null;
  for (let eol = text.indexOf('\n', at); eol >= 0 && HEADER.test(text.slice(at, eol)); eol = text.indexOf('\n', at)) at = eol + 1;
  // The END line starts after the newline that ends the line before it (at - 1: BEGIN's or the last header's).
  const end = text.indexOf(END_MARK, at - 1);
  if (end < 0) return null;
  const endLineEnd = text.indexOf('\n', end + 1);
  const endLine = text.slice(end + 1, endLineEnd < 0 ? text.length : endLineEnd);
  // A longer last line is cut by the streaming decoder (MAX_LINE), not read as END.
  if (endLine.length > MAX_LINE || !END.test(endLine) || (endLineEnd >= 0 && text.includes(BEGIN_MARK, endLineEnd))) return null;
  let data = text.slice(at, end + 1);
  let checksum: string | null = null;
  const last = data.lastIndexOf('\n', data.length - 2) + 1;
  if (data.length - last === 6 && data[last] === '=') {
    checksum = data.slice(last + 1, -1);
    data = data.slice(0, last);
  }
  if (NOT_BASE64_LINES.test(data)) return null;
  const padding = data.indexOf('=');
  // A length of 4n + 1 is no base64 the streaming decoder reads (newlines aside).
  let newlines = 0;
  for (let i = data.indexOf('\n'); i >= 0; i = data.indexOf('\n', i + 1)) newlines++;
  if ((padding >= 0 && !PADDING_TAIL.test(data.slice(padding))) || (data.length - newlines) % 4 === 1) return null;
  const bytes = Buffer.from(data, 'base64');
  if (checksum !== null && !checksumMatches(checksum, crc24(bytes))) return null;
  return { type, data: new Uint8Array(bytes) };
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
