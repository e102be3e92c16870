import { describe, expect, it } from 'vitest';
import { algorithmName, escapeUserId, formatMachineReadableIndex, type IndexKey } from '../../src/formats/machineReadableIndex.js';

const NOW = 1_700_000_000;

const PUB_RE = /^pub:([0-9a-fA-F]+):([0-9]+):([0-9]+):([0-9]+):([0-9]*):([rde]*)$/;
const UID_RE = /^uid:([^:]*):([0-9]+):([0-9]*):([rde]*)$/;

function key(overrides: Partial<IndexKey> = {}): IndexKey {
  return {
    fingerprint: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    keyId: '6d7e8f9012345678',
    version: 4,
    algorithm: 1,
    bits: 4096,
    created: 1_600_000_000,
    expires: null,
    revoked: false,
    userIds: [{ text: 'Alice <alice@example.org>', created: 1_600_000_000, expires: null, revoked: false }],
    ...overrides,
  };
}

function lines(out: string): string[] {
  expect(out.endsWith('\n')).toBe(true);
  return out.slice(0, -1).split('\n');
}

describe('escapeUserId', () => {
  it('leaves printable ASCII, space, <, >, @ alone', () => {
    expect(escapeUserId('Alice Smith (work) <alice@example.org>')).toBe('Alice Smith (work) <alice@example.org>');
  });
  it('escapes colon, percent and plus', () => {
    expect(escapeUserId('a:b')).toBe('a%3Ab');
    expect(escapeUserId('100%')).toBe('100%25');
    expect(escapeUserId('a+b@x.org')).toBe('a%2Bb@x.org');
    expect(escapeUserId('%3A')).toBe('%253A');
  });
  it('escapes control bytes and DEL', () => {
    expect(escapeUserId('a\nb')).toBe('a%0Ab');
    expect(escapeUserId('a\tb')).toBe('a%09b');
    expect(escapeUserId('a\rb\0c')).toBe('a%0Db%00c');
    expect(escapeUserId('x\x7Fy')).toBe('x%7Fy');
  });
  it('escapes the UTF-8 bytes of non-ASCII text with upper-case hex', () => {
    expect(escapeUserId('Jakub Ružička')).toBe('Jakub Ru%C5%BEi%C4%8Dka');
    expect(escapeUserId('日本')).toBe('%E6%97%A5%E6%9C%AC');
    expect(escapeUserId('😀')).toBe('%F0%9F%98%80');
  });
  it('encodes U+FFFD as EF BF BD', () => {
    expect(escapeUserId('bad \uFFFD byte')).toBe('bad %EF%BF%BD byte');
  });
  it('round-trips through decodeURIComponent', () => {
    const text = 'Jöhn + Doe: 100% <j+d@x.org>\t';
    expect(decodeURIComponent(escapeUserId(text))).toBe(text);
  });
});

describe('algorithmName', () => {
  it('names known algorithms', () => {
    expect([1, 2, 3, 16, 17, 18, 19, 22, 25, 26, 27, 28].map(algorithmName)).toEqual([
      'RSA',
      'RSA',
      'RSA',
      'ELG',
      'DSA',
      'ECDH',
      'ECDSA',
      'EdDSA',
      'X25519',
      'X448',
      'Ed25519',
      'Ed448',
    ]);
  });
  it('falls back to algoN', () => {
    expect(algorithmName(99)).toBe('algo99');
  });
});

describe('formatMachineReadableIndex', () => {
  it('formats one key exactly', () => {
    const out = formatMachineReadableIndex([key()], NOW);
    expect(out).toBe(
      'info:1:1\n' + 'pub:A1B2C3D4E5F60718293A4B5C6D7E8F9012345678:1:4096:1600000000::\n' + 'uid:Alice <alice@example.org>:1600000000::\n',
    );
  });

  it('outputs info:1:0 for no keys', () => {
    expect(formatMachineReadableIndex([], NOW)).toBe('info:1:0\n');
  });

  it('has 7 fields on every pub line and 5 on every uid line, matching the OpenKeychain regexes', () => {
    const keys = [
      key(),
      key({
        fingerprint: 'ffffffffffffffffffffffffffffffffffffffff',
        algorithm: 22,
        bits: 255,
        expires: NOW + 100,
        userIds: [
          { text: 'a:b+c%d\n\t', created: 1, expires: NOW - 1, revoked: false },
          { text: 'Jakub Ružička \uFFFD', created: 2, expires: null, revoked: true },
          { text: '', created: 3, expires: null, revoked: false },
        ],
      }),
      key({ fingerprint: '0000000000000000000000000000000000000000', revoked: true, userIds: [] }),
    ];
    const ls = lines(formatMachineReadableIndex(keys, NOW));
    expect(ls[0]).toBe('info:1:3');
    for (const line of ls.slice(1)) {
      if (line.startsWith('pub:')) {
        expect(line.split(':').length).toBe(7);
        expect(line).toMatch(PUB_RE);
      } else {
        expect(line.startsWith('uid:')).toBe(true);
        expect(line.split(':').length).toBe(5);
        expect(line).toMatch(UID_RE);
      }
    }
  });

  it('counts pub lines in info, skipping v6 keys entirely', () => {
    const v6: IndexKey = key({
      version: 6,
      fingerprint: 'cb186c4f0609a697e4d52dfa6c722b0c1f1e27c18a56708f6525ec27bad9acc9',
      algorithm: 27,
      bits: 255,
      userIds: [{ text: 'v6 user', created: 5, expires: null, revoked: false }],
    });
    const out = formatMachineReadableIndex([key(), v6, key({ fingerprint: 'b'.repeat(40) })], NOW);
    const ls = lines(out);
    const pubs = ls.filter((l) => l.startsWith('pub:')).length;
    expect(pubs).toBe(2);
    expect(ls[0]).toBe(`info:1:${pubs}`);
    expect(out).not.toContain('CB186C4F');
    expect(out).not.toContain('v6 user');

    expect(formatMachineReadableIndex([v6], NOW)).toBe('info:1:0\n');
  });

  it('puts the full upper-case fingerprint in field 2', () => {
    const ls = lines(formatMachineReadableIndex([key()], NOW));
    expect(ls[1]?.split(':')[1]).toBe('A1B2C3D4E5F60718293A4B5C6D7E8F9012345678');
  });

  it('sets pub flags: revoked wins over expired, expired only when expires <= now', () => {
    const flagOf = (k: IndexKey): string | undefined => lines(formatMachineReadableIndex([k], NOW))[1]?.split(':')[6];
    expect(flagOf(key())).toBe('');
    expect(flagOf(key({ expires: NOW + 1 }))).toBe('');
    expect(flagOf(key({ expires: NOW }))).toBe('e');
    expect(flagOf(key({ expires: NOW - 1000 }))).toBe('e');
    expect(flagOf(key({ revoked: true }))).toBe('r');
    expect(flagOf(key({ revoked: true, expires: NOW - 1000 }))).toBe('r');
  });

  it('sets uid flags the same way', () => {
    const uidLines = lines(
      formatMachineReadableIndex(
        [
          key({
            userIds: [
              { text: 'valid', created: 10, expires: null, revoked: false },
              { text: 'future', created: 10, expires: NOW + 1, revoked: false },
              { text: 'expired', created: 10, expires: NOW, revoked: false },
              { text: 'revoked', created: 10, expires: null, revoked: true },
              { text: 'both', created: 10, expires: NOW - 5, revoked: true },
            ],
          }),
        ],
        NOW,
      ),
    ).filter((l) => l.startsWith('uid:'));
    expect(uidLines).toEqual([
      'uid:valid:10::',
      `uid:future:10:${NOW + 1}:`,
      `uid:expired:10:${NOW}:e`,
      'uid:revoked:10::r',
      `uid:both:10:${NOW - 5}:r`,
    ]);
  });

  it('writes the expiry date as digits and never 0 for "no expiry"', () => {
    const ls = lines(formatMachineReadableIndex([key({ expires: NOW + 86400 })], NOW));
    expect(ls[1]).toBe(`pub:A1B2C3D4E5F60718293A4B5C6D7E8F9012345678:1:4096:1600000000:${NOW + 86400}:`);
    const none = lines(formatMachineReadableIndex([key()], NOW));
    expect(none[1]?.split(':')[5]).toBe('');
  });

  it('passes ECC bits through', () => {
    const out = formatMachineReadableIndex(
      [
        key({ algorithm: 22, bits: 255 }),
        key({ algorithm: 19, bits: 384, fingerprint: 'c'.repeat(40) }),
        key({ algorithm: 19, bits: 521, fingerprint: 'd'.repeat(40) }),
      ],
      NOW,
    );
    const pubs = lines(out).filter((l) => l.startsWith('pub:'));
    expect(pubs.map((l) => l.split(':').slice(2, 4).join(':'))).toEqual(['22:255', '19:384', '19:521']);
  });

  it('escapes user IDs so no line gets extra fields or breaks', () => {
    const out = formatMachineReadableIndex([key({ userIds: [{ text: 'Evil:\nuid:injected:1::', created: 1, expires: null, revoked: false }] })], NOW);
    const ls = lines(out);
    expect(ls).toHaveLength(3);
    expect(ls[2]).toBe('uid:Evil%3A%0Auid%3Ainjected%3A1%3A%3A:1::');
  });
});
