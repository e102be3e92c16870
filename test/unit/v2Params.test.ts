import { describe, expect, it } from 'vitest';
import { identityQuery, indexQuery, parseDay, parseKeyId, parseVersionedFingerprint } from '../../src/http/v2/params.js';

describe('HKP v2 path parameters', () => {
  it('takes 04 + 40 or 06 + 64 hex digits, any case', () => {
    expect(parseVersionedFingerprint('04', 'ab'.repeat(20))).toBe('AB'.repeat(20));
    expect(parseVersionedFingerprint('06', 'cd'.repeat(32))).toBe('CD'.repeat(32));
    for (const [v, fp] of [
      ['05', 'a'.repeat(40)],
      ['4', 'a'.repeat(40)],
      ['04', 'a'.repeat(64)],
      ['06', 'a'.repeat(40)],
      ['04', 'g'.repeat(40)],
      ['04', ''],
    ]) {
      expect(() => parseVersionedFingerprint(v!, fp!), `${v}/${fp}`).toThrow(expect.objectContaining({ status: 400 }));
    }
  });

  it('takes 16 hex digits as a key ID', () => {
    expect(parseKeyId('0123456789abcdef')).toBe('0123456789ABCDEF');
    for (const id of ['0x0123456789abcd', '0123456789abcde', '0123456789abcdef0', 'z123456789abcdef']) expect(() => parseKeyId(id)).toThrow();
  });

  it('reads an identity as an e-mail, an account name or a whole user ID', () => {
    expect(identityQuery(' <Ann@Example.org> ')).toEqual({ kind: 'identity', identity: 'ann@example.org' });
    expect(identityQuery('<AAA12345xy>')).toEqual({ kind: 'identity', identity: 'aaa12345xy' });
    expect(identityQuery('AAA12345xy')).toEqual({ kind: 'exactUserId', text: 'AAA12345xy', identity: 'aaa12345xy' });
    expect(identityQuery('Ann Example <ann@example.org>')).toEqual({ kind: 'exactUserId', text: 'Ann Example <ann@example.org>', identity: null });
    for (const bad of ['', '   ', 'a\u0001b', 'x'.repeat(4097)]) expect(() => identityQuery(bad)).toThrow(expect.objectContaining({ status: 400 }));
    expect(indexQuery('0x' + 'A'.repeat(40))).toEqual({ kind: 'fingerprint', fingerprint: 'A'.repeat(40) });
  });

  it('takes real days written yyyy-mm-dd', () => {
    expect(parseDay('2024-02-29').toISOString()).toBe('2024-02-29T00:00:00.000Z');
    for (const day of ['2023-02-29', '2024-1-01', '2024-13-01', '20240101', 'today', '2024-01-01T00:00']) {
      expect(() => parseDay(day), day).toThrow(expect.objectContaining({ status: 400 }));
    }
  });
});
