// decodeArmor's shortcut for the usual upload (decodeSingleBlock) must give exactly what the streaming decoder
// gives, on well-formed texts (which it decodes) and on every other text (which it leaves to the streaming one).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeArmor, decodeArmorStreaming, decodeSingleBlock, encodeArmor } from '../../src/formats/armor.js';

const LENGTHS = [0, 1, 2, 3, 4, 5, 47, 48, 49, 95, 96, 97, 1000, 3000];

function armored(n: number): { data: Uint8Array; text: string } {
  const data = new Uint8Array(randomBytes(n));
  return { data, text: encodeArmor(data) };
}

/** Lines of an encodeArmor text: BEGIN, blank, body..., checksum, END, '' (after the final newline). */
function lines(text: string): string[] {
  return text.split('\n');
}

function expectSameAsStreaming(text: string, label: string): void {
  expect(decodeArmor(text), label).toEqual(decodeArmorStreaming(text));
}

describe('decodeSingleBlock', () => {
  it('decodes the usual forms of one block, as the streaming decoder does', () => {
    for (const n of LENGTHS) {
      const { data, text } = armored(n);
      const l = lines(text);
      const body = l.slice(2, -3);
      const variants: Record<string, string> = {
        plain: text,
        'no final newline': text.slice(0, -1),
        'with headers': [l[0], 'Version: GnuPG v2', 'Comment: a key', ...l.slice(1)].join('\n'),
        'header without value': [l[0], 'Comment:', ...l.slice(1)].join('\n'),
        'no blank line': [l[0], ...l.slice(2)].join('\n'),
        'without checksum': [...l.slice(0, -3), ...l.slice(-2)].join('\n'),
        'text around it': `Here is my key:\n\n${text}\nthanks\n`,
        'blank lines in the body': [l[0], '', ...body.flatMap((b) => [b, '']), ...l.slice(-3)].join('\n'),
        'one long body line': [l[0], '', body.join(''), ...l.slice(-3)].join('\n'),
        'short body lines': [l[0], '', ...(body.join('').match(/.{1,4}/g) ?? []), ...l.slice(-3)].join('\n'),
        'private key block': encodeArmor(data, 'PRIVATE KEY BLOCK'),
      };
      for (const [name, variant] of Object.entries(variants)) {
        const label = `${name}, ${n} bytes`;
        const block = decodeSingleBlock(variant);
        expect(block, label).not.toBeNull();
        expect(Buffer.from(block!.data).equals(Buffer.from(data)), label).toBe(true);
        expect(block!.data.constructor, label).toBe(Uint8Array);
        expectSameAsStreaming(variant, label);
      }
    }
  });

  it('leaves every other text to the streaming decoder, which gives the same errors as before', () => {
    const { text } = armored(200);
    const l = lines(text);
    const body = l.slice(2, -3);
    const other = armored(50).text;
    const cases: Record<string, { text: string; errors: string[]; blocks: number }> = {
      'bad checksum': {
        text: [...l.slice(0, -3), '=AAAA', ...l.slice(-2)].join('\n'),
        errors: ['armor checksum mismatch (corrupted data)'],
        blocks: 0,
      },
      'corrupted body': {
        text: [l[0], '', (body[0]![0] === 'A' ? 'B' : 'A') + body[0]!.slice(1), ...l.slice(3)].join('\n'),
        errors: ['armor checksum mismatch (corrupted data)'],
        blocks: 0,
      },
      'invalid base64 character': {
        text: [l[0], '', body[0]!.slice(0, 10) + '*' + body[0]!.slice(11), ...l.slice(3)].join('\n'),
        errors: ['invalid base64 in armor'],
        blocks: 0,
      },
      'data after padding': {
        text: [l[0], '', 'QUI=', 'QUJD', '-----END PGP PUBLIC KEY BLOCK-----'].join('\n'),
        errors: ['invalid base64 in armor'],
        blocks: 0,
      },
      'length 4n+1': { text: [l[0], '', 'QUJDR', '-----END PGP PUBLIC KEY BLOCK-----'].join('\n'), errors: ['invalid base64 in armor'], blocks: 0 },
      truncated: { text: l.slice(0, -2).join('\n'), errors: ['armored block has no END line (truncated?)'], blocks: 0 },
      'CRLF line ends': { text: text.replace(/\n/g, '\r\n'), errors: [], blocks: 1 },
      'indented lines': { text: l.map((x) => (x ? `  ${x}` : x)).join('\n'), errors: [], blocks: 1 },
      'trailing spaces': { text: l.map((x) => (x ? `${x} ` : x)).join('\n'), errors: [], blocks: 1 },
      'two blocks': { text: text + other, errors: [], blocks: 2 },
      'BEGIN inside a line': { text: `see -----BEGIN PGP PUBLIC KEY BLOCK-----\n${text}`, errors: [], blocks: 1 },
    };
    for (const [name, c] of Object.entries(cases)) {
      expect(decodeSingleBlock(c.text), name).toBeNull();
      const result = decodeArmor(c.text);
      expect(result.errors, name).toEqual(c.errors);
      expect(result.blocks, name).toHaveLength(c.blocks);
      expectSameAsStreaming(c.text, name);
    }
  });

  it('gives what the streaming decoder gives on texts altered at random', () => {
    // Characters that matter to the armor's grammar, put in, taken out or swapped at random places.
    const alphabet = ['\n', '\r', ' ', '\t', '=', '-', ':', 'A', 'z', '0', '+', '/', '*', '\u00a0', '-----END PGP ', '-----BEGIN PGP '];
    let decodedBySingle = 0;
    for (let round = 0; round < 3000; round++) {
      let text = armored([0, 1, 2, 3, 60, 200][round % 6]!).text;
      if (round % 5 === 0) text = `Comment: x\n${text}`.replace('-----\n\n', '-----\nVersion: 1\n\n');
      const edits = 1 + (round % 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(Math.random() * (text.length + 1));
        const piece = alphabet[Math.floor(Math.random() * alphabet.length)]!;
        const kind = Math.floor(Math.random() * 3);
        if (kind === 0) text = text.slice(0, at) + piece + text.slice(at);
        else if (kind === 1) text = text.slice(0, at) + text.slice(at + 1);
        else text = text.slice(0, at) + piece + text.slice(at + 1);
      }
      if (decodeSingleBlock(text)) decodedBySingle++;
      expectSameAsStreaming(text, JSON.stringify(text));
    }
    // Some alterations keep the text well formed (a blank line added, a header): the shortcut took those.
    expect(decodedBySingle).toBeGreaterThan(0);
  });
});
