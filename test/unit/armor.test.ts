import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { decodeArmor, encodeArmor, looksArmored } from '../../src/formats/armor.js';
import { crc24 } from '../../src/formats/crc24.js';

const LENGTHS = [0, 1, 2, 3, 4, 47, 48, 49, 96, 1000];

function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** The "=XXXX" checksum line of an armored text, or undefined. */
function checksumLine(armored: string): string | undefined {
  return armored.split(/\r?\n/).find((l) => /^=[A-Za-z0-9+/]{4}$/.test(l));
}

function crcBase64(crc: number): string {
  return Buffer.from([crc >>> 16, (crc >>> 8) & 0xff, crc & 0xff]).toString('base64');
}

/** Replaces the base64 char at index `at` of the first body line with a different valid base64 char. */
function corruptBody(armored: string): string {
  const lines = armored.split('\n');
  const idx = 2; // BEGIN, blank, first body line
  const line = lines[idx]!;
  const c = line[0]!;
  lines[idx] = (c === 'A' ? 'B' : 'A') + line.slice(1);
  return lines.join('\n');
}

describe('crc24', () => {
  it('matches the CRC-24/OpenPGP check value for "123456789"', () => {
    expect(crc24(new TextEncoder().encode('123456789'))).toBe(0x21cf02);
  });

  it('returns the initial value for empty input', () => {
    expect(crc24(new Uint8Array(0))).toBe(0xb704ce);
  });

  it('is always a 24-bit unsigned value', () => {
    for (const n of LENGTHS) {
      const c = crc24(bytes(n));
      expect(Number.isInteger(c)).toBe(true);
      expect(c).toBeGreaterThanOrEqual(0);
      expect(c).toBeLessThanOrEqual(0xffffff);
    }
    // All-0xff input exercises the high bits.
    const c = crc24(new Uint8Array(5000).fill(0xff));
    expect(c).toBeGreaterThanOrEqual(0);
    expect(c).toBeLessThanOrEqual(0xffffff);
  });

  it('changes when a single bit changes', () => {
    const data = bytes(100);
    const before = crc24(data);
    data[50]! ^= 0x01;
    expect(crc24(data)).not.toBe(before);
  });

  it('agrees with the bit-by-bit definition at every length and when continued over parts', () => {
    const bitwise = (data: Uint8Array, crc = 0xb704ce) => {
      for (const b of data) {
        crc ^= b << 16;
        for (let k = 0; k < 8; k++) {
          crc <<= 1;
          if (crc & 0x1000000) crc ^= 0x1864cfb;
        }
      }
      return crc & 0xffffff;
    };
    for (let n = 0; n <= 64; n++) {
      const data = bytes(n).map((b, i) => (b * 31 + i * 7) & 0xff);
      expect(crc24(data), `length ${n}`).toBe(bitwise(data));
      const half = n >> 1;
      expect(crc24(data.subarray(half), crc24(data.subarray(0, half))), `length ${n} in two parts`).toBe(bitwise(data));
    }
  });

  it('agrees with the checksum openpgp.js writes', () => {
    for (const n of LENGTHS) {
      const data = bytes(n);
      const theirs = openpgp.armor(openpgp.enums.armor.publicKey, data, undefined, undefined, undefined, true);
      expect(checksumLine(theirs), `length ${n}`).toBe('=' + crcBase64(crc24(data)));
    }
  });
});

describe('looksArmored', () => {
  it('detects an armor header line', () => {
    expect(looksArmored('blah\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n')).toBe(true);
    expect(looksArmored('mQINBF...')).toBe(false);
    expect(looksArmored('')).toBe(false);
  });
});

describe('encodeArmor', () => {
  it('writes BEGIN, blank line, 64-char lines, checksum, END and a final newline', () => {
    for (const n of LENGTHS) {
      const data = bytes(n);
      const text = encodeArmor(data);
      expect(text.endsWith('\n')).toBe(true);
      expect(text.endsWith('\n\n')).toBe(false);
      const lines = text.slice(0, -1).split('\n');
      expect(lines[0]).toBe('-----BEGIN PGP PUBLIC KEY BLOCK-----');
      expect(lines[1]).toBe('');
      expect(lines.at(-1)).toBe('-----END PGP PUBLIC KEY BLOCK-----');
      const checksum = lines.at(-2)!;
      expect(checksum).toMatch(/^=[A-Za-z0-9+/]{4}$/);
      expect(checksum).toBe('=' + crcBase64(crc24(data)));
      const body = lines.slice(2, -2);
      const b64 = Buffer.from(data).toString('base64');
      expect(body.join('')).toBe(b64);
      expect(body.length).toBe(Math.ceil(b64.length / 64));
      body.forEach((l, i) => {
        if (i < body.length - 1) expect(l.length).toBe(64);
        else expect(l.length).toBeGreaterThan(0);
        expect(l.length).toBeLessThanOrEqual(64);
      });
    }
  });

  it('puts exactly 48 bytes on one full line', () => {
    const lines = encodeArmor(bytes(48)).split('\n');
    expect(lines[2]!.length).toBe(64);
    expect(lines[3]).toMatch(/^=/);
  });

  it('uses the given block type', () => {
    const text = encodeArmor(bytes(10), 'PRIVATE KEY BLOCK');
    expect(text.startsWith('-----BEGIN PGP PRIVATE KEY BLOCK-----\n')).toBe(true);
    expect(text.endsWith('-----END PGP PRIVATE KEY BLOCK-----\n')).toBe(true);
  });

  it('encodes only the viewed bytes of a subarray', () => {
    const big = bytes(200);
    const view = big.subarray(7, 107);
    const { blocks, errors } = decodeArmor(encodeArmor(view));
    expect(errors).toEqual([]);
    expect(blocks).toHaveLength(1);
    expect(Buffer.from(blocks[0]!.data).equals(Buffer.from(view))).toBe(true);
    expect(blocks[0]!.data.length).toBe(100);
  });
});

describe('decodeArmor', () => {
  it('round-trips random bytes of various lengths', () => {
    for (const n of LENGTHS) {
      const data = bytes(n);
      const { blocks, errors } = decodeArmor(encodeArmor(data));
      expect(errors, `length ${n}`).toEqual([]);
      expect(blocks).toHaveLength(1);
      expect(blocks[0]!.type).toBe('PUBLIC KEY BLOCK');
      expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
    }
  });

  it('returns nothing for text without armor', () => {
    expect(decodeArmor('')).toEqual({ blocks: [], errors: [] });
    expect(decodeArmor('just some text\nand more\n')).toEqual({ blocks: [], errors: [] });
  });

  it('decodes several blocks in one text, with text and armor headers around them', () => {
    const a = bytes(30);
    const b = bytes(200);
    const c = bytes(5);
    const withHeaders = encodeArmor(b).replace('-----\n\n', '-----\nComment: x\nVersion: y\n\n');
    expect(withHeaders).toContain('Comment: x\nVersion: y\n\n');
    const text = [
      'Here are my keys:',
      encodeArmor(a),
      'some text in between',
      '',
      withHeaders,
      encodeArmor(c, 'PRIVATE KEY BLOCK'),
      'trailing text',
    ].join('\n');
    const { blocks, errors } = decodeArmor(text);
    expect(errors).toEqual([]);
    expect(blocks.map((x) => x.type)).toEqual(['PUBLIC KEY BLOCK', 'PUBLIC KEY BLOCK', 'PRIVATE KEY BLOCK']);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(a));
    expect(Array.from(blocks[1]!.data)).toEqual(Array.from(b));
    expect(Array.from(blocks[2]!.data)).toEqual(Array.from(c));
  });

  it('tolerates armor headers not followed by a blank line', () => {
    const data = bytes(100);
    const text = encodeArmor(data).replace('-----\n\n', '-----\nComment: no blank line\n');
    const { blocks, errors } = decodeArmor(text);
    expect(errors).toEqual([]);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
  });

  it('accepts CRLF line endings', () => {
    const data = bytes(500);
    const text = encodeArmor(data).replace('-----\n\n', '-----\nVersion: y\n\n').replace(/\n/g, '\r\n');
    expect(text).toContain('\r\n');
    const { blocks, errors } = decodeArmor(text);
    expect(errors).toEqual([]);
    expect(blocks).toHaveLength(1);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
  });

  it('accepts bare CR line endings', () => {
    const data = bytes(100);
    const { blocks, errors } = decodeArmor(encodeArmor(data).replace(/\n/g, '\r'));
    expect(errors).toEqual([]);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
  });

  it('accepts indented lines and trailing whitespace (pasted armor)', () => {
    const data = bytes(150);
    const text = encodeArmor(data)
      .split('\n')
      .map((l) => (l ? `   ${l}  \t` : l))
      .join('\n');
    const { blocks, errors } = decodeArmor(text);
    expect(errors).toEqual([]);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
  });

  it('decodes armor without a checksum line', () => {
    const data = bytes(123);
    const text = encodeArmor(data)
      .split('\n')
      .filter((l) => !/^=[A-Za-z0-9+/]{4}$/.test(l))
      .join('\n');
    expect(checksumLine(text)).toBeUndefined();
    const { blocks, errors } = decodeArmor(text);
    expect(errors).toEqual([]);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
  });

  it('decodes a PRIVATE KEY BLOCK with that type', () => {
    const data = bytes(64);
    const { blocks, errors } = decodeArmor(encodeArmor(data, 'PRIVATE KEY BLOCK'));
    expect(errors).toEqual([]);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]!.type).toBe('PRIVATE KEY BLOCK');
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
  });

  it('rejects a block whose checksum line is wrong', () => {
    const data = bytes(100);
    const good = encodeArmor(data);
    const line = checksumLine(good)!;
    const wrong = '=' + crcBase64(crc24(data) ^ 0x000001);
    expect(wrong).not.toBe(line);
    const { blocks, errors } = decodeArmor(good.replace(line, wrong));
    expect(blocks).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/checksum/i);
  });

  it('rejects a block whose data was corrupted but checksum kept', () => {
    const good = encodeArmor(bytes(100));
    const bad = corruptBody(good);
    expect(bad).not.toBe(good);
    const { blocks, errors } = decodeArmor(bad);
    expect(blocks).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/checksum/i);
  });

  it('rejects a checksum line that is not base64', () => {
    const good = encodeArmor(bytes(20));
    const { blocks, errors } = decodeArmor(good.replace(checksumLine(good)!, '=!!!!'));
    expect(blocks).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it('rejects invalid base64 characters', () => {
    const good = encodeArmor(bytes(100));
    const lines = good.split('\n');
    lines[2] = lines[2]!.slice(0, 10) + '*' + lines[2]!.slice(11);
    const { blocks, errors } = decodeArmor(lines.join('\n'));
    expect(blocks).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/base64/i);
  });

  it('rejects padding in the middle of the data', () => {
    const a = Buffer.from(bytes(4)).toString('base64'); // "xxxxxx==" padded
    expect(a.endsWith('==')).toBe(true);
    const text = `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${a}\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n`;
    const { blocks, errors } = decodeArmor(text);
    expect(blocks).toEqual([]);
    expect(errors).toEqual(['invalid base64 in armor']);
  });

  it('rejects base64 whose length leaves a lone character', () => {
    const text = `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n`;
    const { blocks, errors } = decodeArmor(text);
    expect(blocks).toEqual([]);
    expect(errors).toEqual(['invalid base64 in armor']);
  });

  it('reports a truncated block (no END line)', () => {
    const good = encodeArmor(bytes(300));
    const truncated = good.split('\n').slice(0, 4).join('\n');
    expect(truncated).not.toContain('-----END');
    const { blocks, errors } = decodeArmor(truncated);
    expect(blocks).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/END/);
  });

  it('keeps decoding later blocks after a bad one', () => {
    const first = encodeArmor(bytes(50));
    const bad = first.replace(checksumLine(first)!, '=' + crcBase64(0));
    const data = bytes(70);
    const { blocks, errors } = decodeArmor(bad + 'between\n' + encodeArmor(data));
    expect(errors).toHaveLength(1);
    expect(blocks).toHaveLength(1);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
  });

  it('decodes a complete block that follows a truncated one', () => {
    const truncated = encodeArmor(bytes(300)).split('\n').slice(0, 4).join('\n');
    const data = bytes(40);
    const { blocks, errors } = decodeArmor(truncated + '\n' + encodeArmor(data));
    expect(blocks).toHaveLength(1);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/END/);
  });

  it('accepts an armor header with an empty value', () => {
    const data = bytes(20);
    const text = encodeArmor(data).replace('-----\n\n', '-----\nComment: \n\n');
    const { blocks, errors } = decodeArmor(text);
    expect(errors).toEqual([]);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
  });
});

describe('interoperability with openpgp.js', () => {
  it('decodes armor written by openpgp.js (with checksum) to the same bytes', () => {
    for (const n of LENGTHS) {
      const data = bytes(n);
      const theirs = openpgp.armor(openpgp.enums.armor.publicKey, data, undefined, undefined, undefined, true);
      const { blocks, errors } = decodeArmor(theirs);
      expect(errors, `length ${n}`).toEqual([]);
      expect(blocks).toHaveLength(1);
      expect(blocks[0]!.type).toBe('PUBLIC KEY BLOCK');
      expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
    }
  });

  it('decodes openpgp.js armor with a comment header and private key type', () => {
    const data = bytes(333);
    const theirs = openpgp.armor(openpgp.enums.armor.privateKey, data, undefined, undefined, 'hello there', true);
    expect(theirs).toContain('Comment: hello there');
    const { blocks, errors } = decodeArmor(theirs);
    expect(errors).toEqual([]);
    expect(blocks[0]!.type).toBe('PRIVATE KEY BLOCK');
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(data));
  });

  it('produces armor openpgp.unarmor decodes to the same bytes', async () => {
    for (const n of LENGTHS) {
      const data = bytes(n);
      const result = await openpgp.unarmor(encodeArmor(data));
      expect(result.type).toBe(openpgp.enums.armor.publicKey);
      expect(result.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(result.data as Uint8Array)).toEqual(Array.from(data));
    }
  });

  it('decodes a real key armored by openpgp.js', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ email: 'a@b.c' }], format: 'object' });
    const { blocks, errors } = decodeArmor(publicKey.armor());
    expect(errors).toEqual([]);
    expect(blocks).toHaveLength(1);
    expect(Array.from(blocks[0]!.data)).toEqual(Array.from(publicKey.write()));
  });
});
