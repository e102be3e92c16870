// ASCII armor (RFC 9580 §6): decode every block of a text, encode one block. Pure.
import { ArmorStreamDecoder } from './armorStream.js';
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
  // One decoder for whole texts and streams alike: the streaming one, fed the text at once.
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
