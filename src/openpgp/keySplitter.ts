// Binary OpenPGP data split into transferable keys as bytes arrive: packet framing is checked incrementally and
// each key is handed out once complete, so memory holds one key (plus one chunk) whatever the input's size.
// Broken framing skips the key it is in and resumes at the next plausible public-key packet header.
import { Tag, fingerprintOf, readPacketHeader } from './packets.js';

export type KeyStreamItem =
  /** One transferable key: its bytes exactly as read (primary key packet up to the next one). */
  | { kind: 'key'; bytes: Uint8Array; offset: number; block?: number }
  /** Input that held no usable key, with the reason; offset/length in bytes (decoded bytes in armor). */
  | { kind: 'skipped'; offset: number; length: number; reason: string; at?: number; fingerprint?: string; block?: number };

export interface KeyStreamOptions {
  /** Largest key (all its packets) read; a larger one is skipped and reported. */
  maxKeyBytes?: number;
}

export const DEFAULT_MAX_KEY_BYTES = 32 * 1024 * 1024;

// Tags that may appear in transferable keys (RFC 9580 §10.1), plus 40-63, which readers must ignore.
const KEY_TAGS = new Set<number>([
  Tag.signature,
  Tag.secretKey,
  Tag.publicKey,
  Tag.secretSubkey,
  Tag.marker,
  Tag.trust,
  Tag.userId,
  Tag.publicSubkey,
  Tag.userAttribute,
  Tag.padding,
]);
const VERSIONED_TAGS = new Set<number>([Tag.signature, Tag.secretKey, Tag.publicKey, Tag.secretSubkey, Tag.publicSubkey]);
const IGNORED_LEADING = new Set<number>([Tag.marker, Tag.trust, Tag.padding]);
// Public-key algorithm IDs (RFC 9580 §9.1, plus the deprecated and experimental ones keydumps hold).
const ALGORITHMS = new Set<number>([
  1, 2, 3, 16, 17, 18, 19, 20, 21, 22, 25, 26, 27, 28, 29, 30, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110,
]);
// Most zero or blank bytes after the last key taken as padding rather than corruption.
const MAX_PADDING = 64 * 1024;
// Largest primary key packet considered when resynchronising (an RSA-16384 key is ~2 KiB).
const MAX_RESYNC_KEY_PACKET = 64 * 1024;

type Header = { tag: number; headerLength: number; length: number } | { need: true } | { invalid: string };

const INVALID_HEADERS = {
  header: 'invalid packet header',
  partial: 'partial body length in key data',
  indeterminate: 'indeterminate length in key data',
} as const;

/** Reads a packet header at `at` (packets.ts) and checks it fits key data; `need` when more bytes are needed to tell. */
function readHeader(data: Uint8Array, at: number, end: number, maxLength: number): Header {
  const h = readPacketHeader(data, at, end);
  if ('need' in h) return h;
  if ('invalid' in h) return { invalid: INVALID_HEADERS[h.invalid] };
  if (!KEY_TAGS.has(h.tag) && h.tag < 40) return { invalid: `packet of tag ${h.tag} in key data` };
  if (h.length > maxLength) return { invalid: `packet of ${h.length} bytes` };
  return h;
}

/** Whether a public-key packet plausibly starts at `at` (header, version, algorithm); `need` = more bytes. */
function plausiblePrimary(data: Uint8Array, at: number, end: number): boolean | 'need' {
  const first = data[at]!;
  if (first !== 0xc6 && first !== 0x98 && first !== 0x99 && first !== 0x9a) return false;
  const h = readHeader(data, at, end, MAX_RESYNC_KEY_PACKET);
  if ('need' in h) return 'need';
  if ('invalid' in h || h.tag !== Tag.publicKey || h.length < 8) return false;
  const body = at + h.headerLength;
  if (body + 8 > end) return 'need';
  const version = data[body]!;
  // v3 keys have a two-octet validity period before the algorithm.
  if (version === 3) return ALGORITHMS.has(data[body + 7]!);
  if (version === 4 || version === 5 || version === 6) return ALGORITHMS.has(data[body + 5]!);
  return false;
}

/** Fingerprint of a key's primary key (v4/v6 public key packets), for reports. */
export function primaryFingerprint(bytes: Uint8Array): string | undefined {
  const h = bytes.length > 0 ? readHeader(bytes, 0, bytes.length, bytes.length) : { need: true as const };
  if (!('tag' in h) || h.tag !== Tag.publicKey || h.headerLength + h.length > bytes.length) return undefined;
  try {
    return fingerprintOf(bytes.subarray(h.headerLength, h.headerLength + h.length));
  } catch {
    return undefined;
  }
}

/**
 * Splits binary OpenPGP data, pushed in chunks of any size, into transferable keys. A key starts at a
 * public (or secret) key packet and runs to the next one.
 */
export class KeySplitter {
  private data = new Uint8Array(0);
  /** Bytes of data in use. */
  private filled = 0;
  /** Input offset of data[0]. */
  private base: number;
  /** Index of the current key's first byte; -1 = none. */
  private keyStart = -1;
  /** Index of the next packet header (or, resynchronising, of the next byte to look at). */
  private pos = 0;
  private mode: 'packets' | 'resync' | 'discard' | 'padding' = 'packets';
  /** Padding mode: where the zero or blank bytes after the current key began. */
  private paddingFrom = 0;
  /** Discarding an over-large key: body bytes of the current packet still to pass over. */
  private discardLeft = 0;
  private skip: { from: number; at: number; reason: string; fingerprint?: string | undefined } | null = null;
  private readonly maxKeyBytes: number;

  constructor(options: KeyStreamOptions & { offset?: number } = {}) {
    this.maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
    this.base = options.offset ?? 0;
  }

  push(chunk: Uint8Array): KeyStreamItem[] {
    this.append(chunk);
    const items: KeyStreamItem[] = [];
    this.run(false, items);
    return items;
  }

  end(): KeyStreamItem[] {
    const items: KeyStreamItem[] = [];
    this.run(true, items);
    return items;
  }

  private append(chunk: Uint8Array): void {
    if (this.filled + chunk.length > this.data.length) {
      // Keep only what is still needed: the current key, or the bytes not yet looked at.
      const keep = this.keyStart >= 0 ? this.keyStart : Math.min(this.pos, this.filled);
      const needed = this.filled - keep + chunk.length;
      // Grow by doubling; give memory back after an unusually large key.
      const fits = needed <= this.data.length && !(this.data.length > 8 * 1024 * 1024 && needed * 4 < this.data.length);
      const next = fits ? this.data : new Uint8Array(Math.max(needed * 2, 64 * 1024));
      if (next === this.data) this.data.copyWithin(0, keep, this.filled);
      else next.set(this.data.subarray(keep, this.filled));
      this.data = next;
      this.filled -= keep;
      this.pos -= keep;
      if (this.keyStart >= 0) this.keyStart -= keep;
      this.base += keep;
    }
    this.data.set(chunk, this.filled);
    this.filled += chunk.length;
  }

  private run(final: boolean, items: KeyStreamItem[]): void {
    for (;;) {
      if (this.mode === 'resync' && !this.resync(final, items)) return;
      if (this.mode === 'discard' && !this.discard(final, items)) return;
      if (this.mode === 'padding' && !this.padding(final, items)) return;
      if (this.mode === 'packets' && !this.packets(final, items)) return;
    }
  }

  /** Reads whole packets; false when it needs more input. */
  private packets(final: boolean, items: KeyStreamItem[]): boolean {
    const { data, filled: end } = this;
    while (this.mode === 'packets') {
      if (this.pos >= end) {
        if (final) {
          this.emitKey(items);
          return false;
        }
        return false;
      }
      const h = readHeader(data, this.pos, end, this.maxKeyBytes);
      if ('need' in h) {
        if (final) this.broken('truncated packet header', items);
        return final;
      }
      if ('invalid' in h) {
        if (this.keyStart >= 0 && isPadding(data[this.pos]!)) {
          this.mode = 'padding';
          this.paddingFrom = this.pos;
        } else {
          this.broken(h.invalid, items);
        }
        return true;
      }
      const packetEnd = this.pos + h.headerLength + h.length;
      const primary = h.tag === Tag.publicKey || h.tag === Tag.secretKey;
      if (!primary && this.keyStart < 0 && !IGNORED_LEADING.has(h.tag)) {
        this.broken('no public key packet before this packet', items);
        return true;
      }
      // A primary key packet ends the key before it, whatever follows (seen again after waiting for input).
      if (primary && this.keyStart !== this.pos) {
        this.emitKey(items);
        this.keyStart = this.pos;
      }
      if (this.keyStart >= 0 && packetEnd - this.keyStart > this.maxKeyBytes) {
        const fingerprint = this.currentFingerprint();
        items.push({
          kind: 'skipped',
          offset: this.base + this.keyStart,
          length: packetEnd - this.keyStart,
          reason: `key larger than ${this.maxKeyBytes} bytes`,
          ...(fingerprint ? { fingerprint } : {}),
        });
        this.keyStart = -1;
        this.mode = 'discard';
        this.discardLeft = h.headerLength + h.length;
        return true;
      }
      if (packetEnd > end) {
        if (final) this.broken('truncated packet', items);
        return final;
      }
      if (VERSIONED_TAGS.has(h.tag) && (h.length === 0 || data[this.pos + h.headerLength]! < 2 || data[this.pos + h.headerLength]! > 6)) {
        this.broken(`unknown version in packet of tag ${h.tag}`, items);
        return true;
      }
      this.pos = packetEnd;
    }
    return true;
  }

  /**
   * Zero or blank bytes after a key: padding when they run to the end of the input (the key is kept, e.g. a
   * keyring with a trailing newline); otherwise the framing is broken there.
   */
  private padding(final: boolean, items: KeyStreamItem[]): boolean {
    while (this.pos < this.filled && isPadding(this.data[this.pos]!)) this.pos++;
    if (this.pos === this.filled && !final && this.pos - this.paddingFrom <= MAX_PADDING) return false;
    const end = this.pos;
    this.pos = this.paddingFrom;
    this.mode = 'packets';
    if (end === this.filled && final) {
      this.emitKey(items);
      this.pos = end;
      return false;
    }
    this.broken('invalid packet header', items);
    return true;
  }

  /** Passes over the packets of an over-large key without keeping them. */
  private discard(final: boolean, items: KeyStreamItem[]): boolean {
    const n = Math.min(this.discardLeft, this.filled - this.pos);
    this.pos += n;
    this.discardLeft -= n;
    if (this.discardLeft > 0) return false;
    if (this.pos >= this.filled) return false;
    const h = readHeader(this.data, this.pos, this.filled, this.maxKeyBytes);
    if ('need' in h) return false;
    if ('invalid' in h) {
      this.mode = 'packets';
      this.broken(h.invalid, items);
      return true;
    }
    if (h.tag === Tag.publicKey || h.tag === Tag.secretKey) this.mode = 'packets';
    else this.discardLeft = h.headerLength + h.length;
    return true;
  }

  /** Looks for the next plausible public-key packet header; false when it needs more input. */
  private resync(final: boolean, items: KeyStreamItem[]): boolean {
    for (let i = this.pos; i < this.filled; i++) {
      const p = plausiblePrimary(this.data, i, this.filled);
      if (p === 'need' && !final) {
        this.pos = i;
        return false;
      }
      if (p === true) {
        this.endSkip(i, items);
        this.pos = i;
        this.mode = 'packets';
        return true;
      }
    }
    this.pos = this.filled;
    if (final) {
      this.endSkip(this.filled, items);
      this.mode = 'packets';
    }
    return false;
  }

  /** Framing is broken at pos: the current key is skipped whole and reading resumes at the next key. */
  private broken(reason: string, _items: KeyStreamItem[]): void {
    const at = this.base + this.pos;
    if (this.keyStart >= 0) {
      this.skip = { from: this.base + this.keyStart, at, reason, fingerprint: this.currentFingerprint() };
      this.pos = this.keyStart + 1;
      this.keyStart = -1;
    } else {
      this.skip = { from: at, at, reason };
      this.pos += 1;
    }
    this.mode = 'resync';
  }

  private endSkip(to: number, items: KeyStreamItem[]): void {
    const skip = this.skip;
    if (!skip) return;
    this.skip = null;
    items.push({
      kind: 'skipped',
      offset: skip.from,
      length: this.base + to - skip.from,
      reason: skip.reason,
      at: skip.at,
      ...(skip.fingerprint ? { fingerprint: skip.fingerprint } : {}),
    });
  }

  private emitKey(items: KeyStreamItem[]): void {
    if (this.keyStart < 0) return;
    items.push({ kind: 'key', bytes: this.data.slice(this.keyStart, this.pos), offset: this.base + this.keyStart });
    this.keyStart = -1;
  }

  private currentFingerprint(): string | undefined {
    return this.keyStart >= 0 ? primaryFingerprint(this.data.subarray(this.keyStart, this.filled)) : undefined;
  }
}

function isPadding(byte: number): boolean {
  return byte === 0 || isBlank(byte);
}

export function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}
