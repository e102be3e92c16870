import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { decodePageToken, encodePageToken } from '../../src/services/pageToken.js';

describe('page tokens', () => {
  it.each([0, 1, 2, 99, 100, 12345, 1_000_000])('round-trips offset %i', (offset) => {
    const token = encodePageToken(offset);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token)).toBe(offset);
  });

  it('gives different tokens for different offsets', () => {
    expect(encodePageToken(2)).not.toBe(encodePageToken(3));
  });

  it.each([
    '',
    'abc',
    '!!!',
    'x'.repeat(100),
    Buffer.from('o1:-5').toString('base64url'),
    Buffer.from('o1:9999999').toString('base64url'),
    Buffer.from('o2:5').toString('base64url'),
    Buffer.from("o1:1'; drop table keys").toString('base64url'),
  ])('refuses the invalid token %j with a 400', (token) => {
    let error: unknown;
    try {
      decodePageToken(token);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(400);
  });
});
