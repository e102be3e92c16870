import { describe, expect, it } from 'vitest';
import { formatAuditRow, parseFingerprint, parseSince } from '../../src/cli/audit.js';

describe('keystore audit options', () => {
  it('takes a fingerprint with or without 0x and spaces, in any case', () => {
    const fpr = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
    expect(parseFingerprint(fpr.toLowerCase())).toBe(fpr);
    expect(parseFingerprint(`0x${fpr}`)).toBe(fpr);
    expect(parseFingerprint(fpr.replace(/(.{4})/g, '$1 '))).toBe(fpr);
    expect(parseFingerprint('A'.repeat(64))).toBe('A'.repeat(64));
    for (const bad of ['', 'xyz', 'ABCDEF01', 'A'.repeat(41)]) expect(() => parseFingerprint(bad), bad).toThrow(/40 or 64 hex/);
  });

  it('takes --since as ISO 8601 or a duration back from now', () => {
    const now = Date.UTC(2026, 10, 21, 12, 0, 0);
    expect(parseSince('2026-11-20T10:00:00Z', now).toISOString()).toBe('2026-11-20T10:00:00.000Z');
    expect(parseSince('24h', now).toISOString()).toBe('2026-11-20T12:00:00.000Z');
    expect(parseSince('7d', now).toISOString()).toBe('2026-11-14T12:00:00.000Z');
    expect(parseSince('30m', now).toISOString()).toBe('2026-11-21T11:30:00.000Z');
    for (const bad of ['yesterday', '24 hours', '-1h']) expect(() => parseSince(bad, now), bad).toThrow(/ISO 8601/);
  });

  it('prints a refusal with its reason and who pushed it', () => {
    const line = formatAuditRow({
      id: '7',
      at: new Date('2026-11-21T12:00:00Z'),
      source: 'http',
      remoteAddress: '192.0.2.1',
      tokenId: '3',
      identity: 'a@b',
      fingerprint: 'F'.repeat(40),
      outcome: 'refused',
      detail: { reason: `key ${'F'.repeat(40)} does not contain identity with email 'a@b'` },
    });
    expect(line).toBe(
      `2026-11-21T12:00:00.000Z  #7  refused    ${'F'.repeat(40)}  from 192.0.2.1 token 3 (a@b)  reason: key ${'F'.repeat(40)} does not contain identity with email 'a@b'`,
    );
  });

  it('names the identity of a token from the identity provider, which has no token id', () => {
    const line = formatAuditRow({
      id: '8',
      at: new Date('2026-11-21T12:00:00Z'),
      source: 'http',
      remoteAddress: '192.0.2.1',
      tokenId: null,
      identity: 'aaa12345xy',
      fingerprint: 'F'.repeat(40),
      outcome: 'inserted',
      detail: { added: { userIds: 1, subkeys: 1, signatures: 3 } },
    });
    expect(line).toContain('from 192.0.2.1 provider token (aaa12345xy)  added 1 user IDs');
  });
});
