// ASCII armor decoded incrementally (RFC 9580 §6): fed chunk by chunk, reporting each block's data as it is
// decoded, so inputs too big to hold are read in bounded memory. decodeArmor in armor.ts feeds it a whole text.
import { crc24 } from './crc24.js';

export type ArmorEvent =
  /** A "-----BEGIN PGP <type>-----" line; `line` is its 1-based line number. */
  | { kind: 'begin'; type: string; line: number }
  | { kind: 'data'; bytes: Uint8Array }
  /** The block ended; error says why its data cannot be trusted (bad base64, checksum, no END line). */
  | { kind: 'end'; error: string | null };

export const BEGIN = /^-----BEGIN PGP ([A-Z0-9 ,/]+)-----$/;
export const END = /^-----END PGP ([A-Z0-9 ,/]+)-----$/;
export const HEADER = /^[A-Za-z][A-Za-z0-9-]*:( |$)/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;
// Base64 data on one line is decoded in parts past this length; other text lines are cut at it.
export const MAX_LINE = 64 * 1024;
const DECODE_BATCH = 64 * 1024;

interface Block {
  headers: boolean;
  carry: string;
  padded: boolean;
  crc: number;
  checksum: string | null;
  error: string | null;
}

export class ArmorStreamDecoder {
  private partial = '';
  /** The partial line was (part of) an over-long line already handled; ignore the rest of it. */
  private overlong = false;
  private pendingCr = false;
  private line = 0;
  private block: Block | null = null;
  /** Number of BEGIN lines seen. */
  blocks = 0;

  /** Bytes are read as latin1 (armor is ASCII); a string is taken as it is. */
  push(chunk: Uint8Array | string): ArmorEvent[] {
    const events: ArmorEvent[] = [];
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    let at = 0;
    // A CR ending the previous chunk already ended its line; a LF right after it belongs to it.
    if (this.pendingCr && text.startsWith('\n')) at = 1;
    this.pendingCr = false;
    // Where the next CR is, looked up again only once passed (most text has none: no rescans per line).
    let cr = text.indexOf('\r', at);
    while (at < text.length) {
      const lf = text.indexOf('\n', at);
      if (cr >= 0 && cr < at) cr = text.indexOf('\r', at);
      const stop = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      if (stop < 0) {
        this.partial += text.slice(at);
        if (this.partial.length > MAX_LINE) this.overlongPart(events);
        break;
      }
      this.partial += text.slice(at, stop);
      this.endLine(events);
      at = stop + 1;
      if (text[stop] === '\r') {
        if (at === text.length) this.pendingCr = true;
        else if (text[at] === '\n') at++;
      }
    }
    return events;
  }

  end(): ArmorEvent[] {
    const events: ArmorEvent[] = [];
    if (this.partial.length > 0 || this.overlong) this.endLine(events);
    if (this.block) {
      events.push({ kind: 'end', error: 'armored block has no END line (truncated?)' });
      this.block = null;
    }
    return events;
  }

  private endLine(events: ArmorEvent[]): void {
    const text = this.partial.trim();
    const wasOverlong = this.overlong;
    this.partial = '';
    this.overlong = false;
    this.line++;
    if (wasOverlong) {
      // The rest of a long base64 line; other long lines were text outside blocks.
      if (this.block && !this.block.headers) this.bodyData(text, events);
      return;
    }
    this.handleLine(text, events);
  }

  private overlongPart(events: ArmorEvent[]): void {
    const block = this.block;
    // A long line right after BEGIN is data when it is no header (the blank line is optional).
    if (block?.headers && !HEADER.test(this.partial.trim())) block.headers = false;
    if (block && !block.headers) {
      const text = this.partial.trim();
      // Keep the tail in case it is shorter than a base64 quad; decode the rest now.
      const cut = text.length - (text.length % 4);
      this.bodyData(text.slice(0, cut), events);
      this.partial = text.slice(cut);
    } else {
      this.partial = '';
    }
    this.overlong = true;
  }

  private handleLine(text: string, events: ArmorEvent[]): void {
    const begin = BEGIN.exec(text);
    if (begin) {
      // A new block before this one ended: this one was truncated.
      if (this.block) events.push({ kind: 'end', error: 'armored block has no END line (truncated?)' });
      this.block = { headers: true, carry: '', padded: false, crc: 0xb704ce, checksum: null, error: null };
      this.blocks++;
      events.push({ kind: 'begin', type: begin[1]!, line: this.line });
      return;
    }
    const block = this.block;
    if (!block) return;
    if (block.headers) {
      // Armor headers ("Key: value") run until the first empty line; tolerate a missing blank line.
      if (HEADER.test(text)) return;
      block.headers = false;
      if (text === '') return;
    }
    if (END.test(text)) {
      events.push({ kind: 'end', error: this.finish(block, events) });
      this.block = null;
      return;
    }
    if (text === '') return;
    if (text.startsWith('=') && text.length === 5) {
      block.checksum = text.slice(1);
      return;
    }
    this.bodyData(text, events);
  }

  private bodyData(text: string, events: ArmorEvent[]): void {
    const block = this.block!;
    if (block.error || text === '') return;
    if (!BASE64_LINE.test(text) || (block.padded && text.length > 0)) {
      block.error = 'invalid base64 in armor';
      return;
    }
    if (text.includes('=')) block.padded = true;
    const all = block.carry + text;
    // Lines are decoded in batches: one decode (and one event) per 64-character line would be slow.
    if (!block.padded && all.length < DECODE_BATCH) {
      block.carry = all;
      return;
    }
    const cut = block.padded ? all.length : all.length - (all.length % 4);
    block.carry = all.slice(cut);
    if (cut > 0) this.emit(block, all.slice(0, cut), events);
  }

  private emit(block: Block, base64: string, events: ArmorEvent[]): void {
    if (base64.length % 4 === 1 || /=[^=]/.test(base64)) {
      block.error = 'invalid base64 in armor';
      return;
    }
    const bytes = new Uint8Array(Buffer.from(base64, 'base64'));
    block.crc = crc24(bytes, block.crc);
    if (bytes.length > 0) events.push({ kind: 'data', bytes });
  }

  /** Decodes what is left of a block at its END line; the error, if any, of the whole block. */
  private finish(block: Block, events: ArmorEvent[]): string | null {
    if (!block.error && block.carry.length > 0) this.emit(block, block.carry, events);
    if (block.error) return block.error;
    if (block.checksum !== null && !checksumMatches(block.checksum, block.crc)) return 'armor checksum mismatch (corrupted data)';
    return null;
  }
}

/** Whether the four characters after a checksum line's "=" are the base64 of this CRC-24. */
export function checksumMatches(checksum: string, crc: number): boolean {
  const expected = Buffer.from(checksum, 'base64');
  return expected.length === 3 && expected[0] === crc >>> 16 && expected[1] === ((crc >>> 8) & 0xff) && expected[2] === (crc & 0xff);
}
