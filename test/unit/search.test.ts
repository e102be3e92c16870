import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { parseSearch } from '../../src/services/search.js';

const FPR40 = '0123456789ABCDEF0123456789ABCDEF01234567';
const FPR64 = 'A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90';

function expectBadSearch(raw: string, exact = false): AppError {
  let caught: unknown;
  try {
    parseSearch(raw, exact);
  } catch (e) {
    caught = e;
  }
  expect(caught, JSON.stringify(raw)).toBeInstanceOf(AppError);
  const err = caught as AppError;
  expect(err.status).toBe(400);
  expect(err.code).toBe('invalid_search');
  return err;
}

describe('parseSearch: fingerprints', () => {
  it('accepts 0x + 40 hex digits in upper or lower case, upper-casing the result', () => {
    expect(parseSearch('0x' + FPR40, false)).toEqual({ kind: 'fingerprint', fingerprint: FPR40 });
    expect(parseSearch('0x' + FPR40.toLowerCase(), false)).toEqual({ kind: 'fingerprint', fingerprint: FPR40 });
    expect(parseSearch('0X' + FPR40.toLowerCase(), false)).toEqual({ kind: 'fingerprint', fingerprint: FPR40 });
  });

  it('accepts 40 hex digits without 0x', () => {
    expect(parseSearch(FPR40.toLowerCase(), false)).toEqual({ kind: 'fingerprint', fingerprint: FPR40 });
  });

  it('accepts a fingerprint written in groups of four (as gpg prints it)', () => {
    const grouped = FPR40.match(/.{4}/g)!.join(' ');
    expect(grouped).toBe('0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567');
    expect(parseSearch(grouped, false)).toEqual({ kind: 'fingerprint', fingerprint: FPR40 });
    // gpg puts two spaces in the middle.
    const gpgStyle = FPR40.slice(0, 20).match(/.{4}/g)!.join(' ') + '  ' + FPR40.slice(20).match(/.{4}/g)!.join(' ');
    expect(parseSearch(gpgStyle.toLowerCase(), false)).toEqual({ kind: 'fingerprint', fingerprint: FPR40 });
    expect(parseSearch('0x' + grouped, false)).toEqual({ kind: 'fingerprint', fingerprint: FPR40 });
  });

  it('accepts a 64-digit (v6) fingerprint, with or without 0x', () => {
    expect(parseSearch(FPR64.toLowerCase(), false)).toEqual({ kind: 'fingerprint', fingerprint: FPR64 });
    expect(parseSearch('0x' + FPR64, false)).toEqual({ kind: 'fingerprint', fingerprint: FPR64 });
  });

  it('ignores surrounding whitespace and the exact flag', () => {
    expect(parseSearch(`  0x${FPR40}\t`, true)).toEqual({ kind: 'fingerprint', fingerprint: FPR40 });
  });
});

describe('parseSearch: key IDs', () => {
  it('reads 16 hex digits as a long key ID', () => {
    expect(parseSearch('89abcdef01234567', false)).toEqual({ kind: 'longId', keyId: '89ABCDEF01234567' });
    expect(parseSearch('0x89ABCDEF01234567', false)).toEqual({ kind: 'longId', keyId: '89ABCDEF01234567' });
  });

  it('reads 8 hex digits as a short key ID', () => {
    expect(parseSearch('0xdeadbeef', false)).toEqual({ kind: 'shortId', keyId: 'DEADBEEF' });
    expect(parseSearch('DEADBEEF', false)).toEqual({ kind: 'shortId', keyId: 'DEADBEEF' });
    expect(parseSearch('0x0123 4567', false)).toEqual({ kind: 'shortId', keyId: '01234567' });
  });

  it('reads two 4-digit hex words without 0x as words, not a short key ID', () => {
    expect(parseSearch('dead beef', false)).toEqual({ kind: 'words', words: ['dead', 'beef'], text: 'dead beef' });
  });

  it.each([9, 10, 12, 15])('reads 0x + %i hex digits as a long key ID with leading zeros restored', (n) => {
    const digits = 'ABCDEF123456789'.slice(0, n);
    const result = parseSearch('0x' + digits.toLowerCase(), false);
    expect(result).toEqual({ kind: 'longId', keyId: digits.padStart(16, '0') });
    if (result.kind === 'longId') expect(result.keyId).toHaveLength(16);
  });

  it('reads 9-15 hex digits without 0x as text', () => {
    expect(parseSearch('123456789', false)).toEqual({ kind: 'words', words: ['123456789'], text: '123456789' });
    expect(parseSearch('abcdef12345', true)).toEqual({ kind: 'exactUserId', text: 'abcdef12345', identity: 'abcdef12345' });
  });

  it.each([
    '0x1',
    '0x123',
    '0x1234567',
    '0x' + '1'.repeat(17),
    '0x' + '1'.repeat(39),
    '0x' + '1'.repeat(41),
    '0x' + '1'.repeat(63),
    '0x' + '1'.repeat(65),
  ])('rejects %s with status 400', (raw) => {
    const err = expectBadSearch(raw);
    const n = raw.length - 2;
    expect(err.message).toContain(String(n));
  });

  it('rejects a bad-length hex string with 0x even when exact is on', () => {
    expectBadSearch('0x123', true);
  });
});

describe('parseSearch: e-mail addresses', () => {
  it.each([
    ['a@b.org', 'a@b.org'],
    ['<A@B.org>', 'a@b.org'],
    [' a@b.org ', 'a@b.org'],
    ['Alice.Smith+tag@Example.COM', 'alice.smith+tag@example.com'],
    ['< a@b.org >', 'a@b.org'],
  ])('%j is the address %s', (raw, email) => {
    expect(parseSearch(raw, false)).toEqual({ kind: 'identity', identity: email });
  });

  it('treats an address as an address even with exact on', () => {
    expect(parseSearch('<A@B.org>', true)).toEqual({ kind: 'identity', identity: 'a@b.org' });
  });
});

describe('parseSearch: account names', () => {
  it('matches the identity for <name>, with or without exact, in normal form', () => {
    expect(parseSearch('<AAA12345xy>', false)).toEqual({ kind: 'identity', identity: 'aaa12345xy' });
    expect(parseSearch('<aaa12345xy>', true)).toEqual({ kind: 'identity', identity: 'aaa12345xy' });
    expect(parseSearch('<山田>', false)).toEqual({ kind: 'identity', identity: '山田' });
  });

  it('matches a bare name as a word, and with exact on as the whole user ID or the identity', () => {
    expect(parseSearch('aaa12345xy', false)).toEqual({ kind: 'words', words: ['aaa12345xy'], text: 'aaa12345xy' });
    expect(parseSearch('AAA12345xy', true)).toEqual({ kind: 'exactUserId', text: 'AAA12345xy', identity: 'aaa12345xy' });
  });

  it('reads brackets around what cannot be an identity as text', () => {
    expect(parseSearch('<John Smith>', false)).toEqual({ kind: 'words', words: ['john', 'smith'], text: '<John Smith>' });
  });

  it('does not treat text with a name and an address as an address', () => {
    const r = parseSearch('Alice Smith <alice@example.org>', false);
    expect(r.kind).toBe('words');
    if (r.kind === 'words') expect(r.words).toEqual(['alice', 'smith', 'example', 'org']);
  });
});

describe('parseSearch: text', () => {
  it('splits other text into lower-case whole words, keeping the text (whitespace collapsed) for ranking', () => {
    expect(parseSearch('alice smith', false)).toEqual({ kind: 'words', words: ['alice', 'smith'], text: 'alice smith' });
    expect(parseSearch('  Alice \t  SMITH  ', false)).toEqual({ kind: 'words', words: ['alice', 'smith'], text: 'Alice SMITH' });
    expect(parseSearch('alice', false)).toEqual({ kind: 'words', words: ['alice'], text: 'alice' });
  });

  it('splits on punctuation as user IDs are split at import, each word once', () => {
    expect(parseSearch("O'Brien-Smith", false)).toMatchObject({ kind: 'words', words: ['o', 'brien', 'smith'] });
    expect(parseSearch('words.example', false)).toMatchObject({ kind: 'words', words: ['words', 'example'] });
    expect(parseSearch('smith Smith SMITH', false)).toMatchObject({ kind: 'words', words: ['smith'] });
  });

  it('keeps non-ASCII text', () => {
    expect(parseSearch('Vernooĳ', false)).toEqual({ kind: 'words', words: ['vernooĳ'], text: 'Vernooĳ' });
    expect(parseSearch('Jürgen Müller', false)).toEqual({ kind: 'words', words: ['jürgen', 'müller'], text: 'Jürgen Müller' });
    expect(parseSearch('Анна المنتصر', false)).toMatchObject({ kind: 'words', words: ['анна', 'المنتصر'] });
  });

  it.each(['!!!', '--', '<>', '%', '_', '* ?', '\ufffd'])('refuses %j, which has no letters or digits, with a 400', (raw) => {
    const err = expectBadSearch(raw);
    expect(err.message).toBe('search has no letters or digits to match');
  });

  it('still matches a whole user ID without letters or digits with exact on', () => {
    expect(parseSearch('!!!', true)).toEqual({ kind: 'exactUserId', text: '!!!', identity: '!!!' });
  });

  it('with exact on, matches the whole (trimmed) user ID', () => {
    expect(parseSearch('Alice Smith <alice@example.org>', true)).toEqual({
      kind: 'exactUserId',
      text: 'Alice Smith <alice@example.org>',
      identity: null,
    });
    expect(parseSearch('  alice smith ', true)).toEqual({ kind: 'exactUserId', text: 'alice smith', identity: null });
  });

  it('treats non-hex text starting with 0x as text', () => {
    expect(parseSearch('0xzz', false)).toEqual({ kind: 'words', words: ['0xzz'], text: '0xzz' });
  });

  it('rejects empty and blank searches with status 400', () => {
    expectBadSearch('');
    expectBadSearch('   ');
    expectBadSearch('\t\n', true);
  });
});

describe('parseSearch control characters', () => {
  it.each(['a\u0000b', '\u0000', 'alice\u0007', '0x\u0000'])('refuses %j with a 400', (search) => {
    expect(() => parseSearch(search, false)).toThrow(expect.objectContaining({ status: 400, code: 'invalid_search' }));
  });
});
