import { describe, expect, it } from 'vitest';
import { formatPrefixLog, formatV2Index, formatV2PushSummary, rfc3339, type V2IndexKey } from '../../src/formats/hkpV2.js';

const V4 = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
const V6 = 'F'.repeat(64);

function key(overrides: Partial<V2IndexKey> = {}): V2IndexKey {
  return {
    fingerprint: V4,
    keyId: V4.slice(-16),
    version: 4,
    algorithm: 22,
    bits: 255,
    created: 1_700_000_000,
    expires: null,
    revoked: false,
    userIds: [{ text: 'Ann <ann@example.org>', revoked: false }],
    subkeys: [{ fingerprint: V6, keyId: V6.slice(0, 16), algorithm: 25, bits: 255, created: 1_700_000_100, expires: 1_800_000_000, revoked: true }],
    ...overrides,
  };
}

describe('HKP v2 formats', () => {
  it('writes RFC 3339 UTC times without fractions', () => {
    expect(rfc3339(0)).toBe('1970-01-01T00:00:00Z');
    expect(rfc3339(1_700_000_000)).toBe('2023-11-14T22:13:20Z');
  });

  it("lists keys with the draft's and Hockeypuck's fields", () => {
    const [entry] = JSON.parse(formatV2Index([key()]));
    expect(entry).toEqual({
      version: 4,
      fingerprint: V4.toLowerCase(),
      longKeyID: V4.slice(-16).toLowerCase(),
      algorithm: { code: 22, name: 'EdDSA (legacy)', bitLength: 255 },
      bitLength: 255,
      creation: '2023-11-14T22:13:20Z',
      revoked: false,
      userIDs: [{ uidString: 'Ann <ann@example.org>', keywords: 'Ann <ann@example.org>', confidence: 0, isRevoked: false }],
      subkeys: [
        {
          version: 6,
          fingerprint: V6.toLowerCase(),
          longKeyID: V6.slice(0, 16).toLowerCase(),
          algorithm: { code: 25, name: 'X25519', bitLength: 255 },
          creation: '2023-11-14T22:15:00Z',
          expiration: '2027-01-15T08:00:00Z',
          isRevoked: true,
        },
      ],
    });
    const [expiring] = JSON.parse(formatV2Index([key({ expires: 1_800_000_000, algorithm: 99, revoked: true })]));
    expect([expiring.expiration, expiring.algorithm.name, expiring.revoked]).toEqual(['2027-01-15T08:00:00Z', 'unknown (99)', true]);
    expect(formatV2Index([])).toBe('[]');
  });

  it('ends every prefix line with CRLF', () => {
    expect(formatPrefixLog(['0a1b2c3d', 'ffffffff'])).toBe('0a1b2c3d\r\nffffffff\r\n');
    expect(formatPrefixLog([])).toBe('');
  });

  it('sums up a push: unchanged keys are ignored, refusals invalid, drops commented', () => {
    const summary = JSON.parse(
      formatV2PushSummary({
        inserted: [V4],
        updated: [V6],
        unchanged: ['1'.repeat(40)],
        rejected: [{ fingerprint: '2'.repeat(64), reason: 'no user ID' }, { reason: 'malformed OpenPGP data' }],
        dropped: [{ fingerprint: V6, component: 'user ID "x"', reason: 'no valid self-signature' }],
      }),
    );
    expect(summary).toEqual({
      inserted: [{ version: 4, fingerprint: V4.toLowerCase() }],
      updated: [{ version: 6, fingerprint: V6.toLowerCase(), comment: 'dropped 1: user ID "x": no valid self-signature' }],
      ignored: [{ version: 4, fingerprint: '1'.repeat(40) }],
      invalid: [{ version: 6, fingerprint: '2'.repeat(64), comment: 'no user ID' }, { comment: 'malformed OpenPGP data' }],
    });
  });

  it('adds the error of a push refused as a whole', () => {
    const refused = JSON.parse(
      formatV2PushSummary(
        { inserted: [], updated: [], unchanged: [], rejected: [{ reason: 'x' }], dropped: [] },
        { code: 422, message: 'no usable key' },
      ),
    );
    expect(refused).toEqual({ inserted: [], updated: [], ignored: [], invalid: [{ comment: 'x' }], error: { code: 422, message: 'no usable key' } });
  });
});
