import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isWkdHash, wkdHashOfAddress, wkdHashOfLocalPart, zBase32 } from '../../src/formats/wkdHash.js';
import { wkdHashV1 } from '../../migrations/20261203000006_wkd_hash.js';

describe('z-base-32 and WKD hashes', () => {
  it('encodes the example of the WKD draft (Joe.Doe@Example.ORG)', () => {
    expect(wkdHashOfAddress('Joe.Doe@Example.ORG')).toBe('iy9q119eutrkn8s1mk4r39qejnbu3n5q');
  });

  it('encodes bit by bit as RFC 6189 defines it, for lengths that do not fill a last group', () => {
    const alphabet = 'ybndrfg8ejkmcpqxot1uwisza345h769';
    const byBits = (bytes: Uint8Array) => {
      const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
      const padded = bits.padEnd(Math.ceil(bits.length / 5) * 5, '0');
      return (
        padded
          .match(/.{5}/g)
          ?.map((g) => alphabet[parseInt(g, 2)])
          .join('') ?? ''
      );
    };
    for (let n = 0; n <= 21; n++) {
      const bytes = createHash('sha256').update(String(n)).digest().subarray(0, n);
      expect(zBase32(bytes), String(n)).toBe(byBits(bytes));
    }
  });

  it('lower-cases ASCII letters only, as gpg does', () => {
    expect(wkdHashOfLocalPart('ALICE')).toBe(wkdHashOfLocalPart('alice'));
    expect(wkdHashOfLocalPart('Ünï')).not.toBe(wkdHashOfLocalPart('ünï'));
  });

  it('needs a local part and a domain; recognises hashes', () => {
    expect(wkdHashOfAddress('@x')).toBeNull();
    expect(wkdHashOfAddress('x@')).toBeNull();
    expect(isWkdHash(wkdHashOfLocalPart('a'))).toBe(true);
    expect(isWkdHash('iy9q119eutrkn8s1mk4r39qejnbu3n5')).toBe(false);
    expect(isWkdHash('IY9Q119EUTRKN8S1MK4R39QEJNBU3N5Q')).toBe(false);
  });

  it('agrees with the frozen copy in the migration that fills existing rows', () => {
    for (const uid of [
      'Joe <Joe.Doe@Example.ORG>',
      'plain@example.org',
      'Ünï <Ünï.Code@x.example>',
      'no address',
      `<${'a'.repeat(300)}@x.example>`,
    ]) {
      const bracketed = /<([^<>]*)>\s*$/.exec(uid);
      const address = (bracketed ? bracketed[1]! : uid).trim();
      const expected = /^[^\s@<>]+@[^\s@<>]+$/.test(address) && address.length <= 254 ? wkdHashOfAddress(address) : null;
      expect(wkdHashV1(uid), uid).toBe(expected);
    }
  });
});
