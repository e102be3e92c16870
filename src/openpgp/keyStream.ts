// Keys read incrementally from a byte stream of any size (keyrings, keydumps, armored files, stdin): binary
// input goes through the KeySplitter, armored input through the streaming armor decoder first.
import { ArmorStreamDecoder } from '../formats/armorStream.js';
import { DEFAULT_MAX_KEY_BYTES, KeySplitter, isBlank, type KeyStreamItem, type KeyStreamOptions } from './keySplitter.js';

export { DEFAULT_MAX_KEY_BYTES, KeySplitter, primaryFingerprint, type KeyStreamItem, type KeyStreamOptions } from './keySplitter.js';

/**
 * Reads keys from binary or armored input pushed in chunks: the first non-blank byte tells which (armor is
 * text, starting with a printable character; a packet header byte has its high bit set). Keys of an armored block are held back until its END line
 * confirms the block (checksum, base64), as decodeArmor does for /pks/add, unless the block is larger than
 * maxKeyBytes: then they are handed out as read and a late error only reports.
 */
export class KeyStreamReader {
  private format: 'unknown' | 'binary' | 'armor' = 'unknown';
  private offset = 0;
  private binary: KeySplitter | null = null;
  private armor: ArmorStreamDecoder | null = null;
  private block: {
    type: string;
    line: number;
    splitter: KeySplitter | null;
    held: KeyStreamItem[];
    heldBytes: number;
    released: boolean;
    decoded: number;
  } | null = null;
  private readonly maxKeyBytes: number;

  constructor(options: KeyStreamOptions = {}) {
    this.maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
  }

  push(chunk: Uint8Array): KeyStreamItem[] {
    if (this.format === 'unknown') {
      let i = 0;
      while (i < chunk.length && isBlank(chunk[i]!)) i++;
      this.offset += i;
      if (i === chunk.length) return [];
      // Text (armor) starts with a printable character; anything else is read as packets.
      const first = chunk[i]!;
      if (first < 0x20 || first > 0x7e) {
        this.format = 'binary';
        this.binary = new KeySplitter({ maxKeyBytes: this.maxKeyBytes, offset: this.offset });
        chunk = chunk.subarray(i);
      } else {
        this.format = 'armor';
        this.armor = new ArmorStreamDecoder();
      }
    }
    if (this.binary) return this.binary.push(chunk);
    return this.armorItems(this.armor!.push(chunk));
  }

  end(): KeyStreamItem[] {
    if (this.binary) return this.binary.end();
    if (!this.armor) return [{ kind: 'skipped', offset: 0, length: this.offset, reason: 'no OpenPGP data (empty input)' }];
    const items = this.armorItems(this.armor.end());
    if (this.armor.blocks === 0)
      items.push({ kind: 'skipped', offset: 0, length: 0, reason: 'no OpenPGP data (neither binary packets nor an armored block)' });
    return items;
  }

  private armorItems(events: ReturnType<ArmorStreamDecoder['push']>): KeyStreamItem[] {
    const items: KeyStreamItem[] = [];
    for (const event of events) {
      if (event.kind === 'begin') {
        // Secret key blocks are read too: their keys are refused by fingerprint, with the reason.
        const keys = event.type === 'PUBLIC KEY BLOCK' || event.type === 'PRIVATE KEY BLOCK';
        this.block = {
          type: event.type,
          line: event.line,
          splitter: keys ? new KeySplitter({ maxKeyBytes: this.maxKeyBytes }) : null,
          held: [],
          heldBytes: 0,
          released: false,
          decoded: 0,
        };
      } else if (event.kind === 'data') {
        const block = this.block!;
        block.decoded += event.bytes.length;
        if (block.splitter) this.hold(block, block.splitter.push(event.bytes), items);
      } else {
        const block = this.block!;
        this.block = null;
        if (!block.splitter) {
          items.push({
            kind: 'skipped',
            offset: 0,
            length: block.decoded,
            reason: `armored ${block.type.toLowerCase()} is not a public key`,
            block: block.line,
          });
          continue;
        }
        if (event.error) {
          // The block's data cannot be trusted: none of its keys is used (unless already handed out).
          const what = block.released ? 'keys before the error were imported' : 'the block is skipped';
          items.push({ kind: 'skipped', offset: 0, length: block.decoded, reason: `${event.error}: ${what}`, block: block.line });
          continue;
        }
        this.hold(block, block.splitter.end(), items);
        items.push(...block.held);
      }
    }
    return items;
  }

  private hold(block: NonNullable<KeyStreamReader['block']>, read: KeyStreamItem[], items: KeyStreamItem[]): void {
    for (const item of read) item.block = block.line;
    if (block.released) {
      items.push(...read);
      return;
    }
    block.held.push(...read);
    for (const item of read) if (item.kind === 'key') block.heldBytes += item.bytes.length;
    if (block.heldBytes > this.maxKeyBytes) {
      items.push(...block.held);
      block.held = [];
      block.released = true;
    }
  }
}

/** Reads keys from an async byte source (a file or stdin stream), one item at a time. */
export async function* readKeyStream(source: AsyncIterable<Uint8Array>, options: KeyStreamOptions = {}): AsyncGenerator<KeyStreamItem> {
  const reader = new KeyStreamReader(options);
  for await (const chunk of source) yield* reader.push(chunk);
  yield* reader.end();
}
