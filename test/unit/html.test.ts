import { describe, expect, it } from 'vitest';
import { escapeHtml, groupFingerprint, renderIndexPage, renderKeyPage, renderSearchForm, renderStatsPage } from '../../src/formats/html.js';
import type { IndexKey, IndexSignature } from '../../src/formats/machineReadableIndex.js';

const NOW = 1_700_000_000;
const FPR = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678';
const SCRIPT_UID = '<script>alert(1)</script> <x@y>';
const EVIL_SEARCH = '"><img src=x onerror=alert(1)>';

function key(overrides: Partial<IndexKey> = {}): IndexKey {
  return {
    fingerprint: FPR.toLowerCase(),
    keyId: '6D7E8F9012345678',
    version: 4,
    algorithm: 1,
    bits: 4096,
    created: 1_600_000_000, // 2020-09-13
    expires: null,
    revoked: false,
    userIds: [
      { text: 'Alice <alice@example.org>', created: 1_600_000_000, expires: null, revoked: false },
      { text: SCRIPT_UID, created: 1_600_000_000, expires: null, revoked: true },
    ],
    subkeys: [
      {
        fingerprint: 'B'.repeat(40),
        keyId: 'B'.repeat(16),
        algorithm: 18,
        bits: 256,
        created: 1_600_000_000,
        expires: NOW - 1,
        revoked: false,
      },
    ],
    ...overrides,
  };
}

describe('escapeHtml', () => {
  it('escapes & < > " \'', () => {
    expect(escapeHtml(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&#39;f');
  });
  it('escapes & first (no double-unescape tricks)', () => {
    expect(escapeHtml('&lt;')).toBe('&amp;lt;');
  });
});

describe('groupFingerprint', () => {
  it('groups a v4 fingerprint in fours', () => {
    expect(groupFingerprint(FPR.toLowerCase())).toBe('A1B2 C3D4 E5F6 0718 293A 4B5C 6D7E 8F90 1234 5678');
  });
  it('groups a 64-digit fingerprint in fours', () => {
    expect(groupFingerprint('0'.repeat(64)).split(' ')).toHaveLength(16);
  });
});

describe('renderIndexPage', () => {
  it('is a complete HTML5 page', () => {
    const html = renderIndexPage({ search: 'alice', keys: [key()], verbose: false, now: NOW });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toMatch(/<title>[^<]*alice[^<]*<\/title>/);
    // Styled by the server's own stylesheet (the CSP allows no inline style).
    expect(html).toMatch(/<link rel="stylesheet" href="\/static\/keystore\.css\?v=[0-9a-f]+">/);
    expect(html).not.toContain('<script');
  });

  it('lists the key: grouped fingerprint, algorithm, dates, status, links', () => {
    const html = renderIndexPage({ search: 'alice', keys: [key()], verbose: false, now: NOW });
    expect(html).toContain('A1B2 C3D4 E5F6 0718 293A 4B5C 6D7E 8F90 1234 5678');
    expect(html).toContain('RSA 4096');
    expect(html).toContain('2020-09-13');
    expect(html).toContain('never');
    expect(html).toContain('valid');
    expect(html).toContain(`href="/pks/lookup?op=get&amp;search=0x${FPR}"`);
    expect(html).toContain(`href="/pks/lookup?op=vindex&amp;fingerprint=on&amp;search=0x${FPR}"`);
    expect(html).toContain('Alice &lt;alice@example.org&gt;');
  });

  it('shows expired and revoked keys', () => {
    const expired = renderIndexPage({ search: 'x', keys: [key({ expires: NOW - 10 })], verbose: false, now: NOW });
    expect(expired).toContain('>expired<');
    expect(expired).toContain('2023-11-14');
    const revoked = renderIndexPage({
      search: 'x',
      keys: [key({ revoked: true, expires: NOW - 10 })],
      verbose: false,
      now: NOW,
    });
    expect(revoked).toMatch(/<p>pub[\s\S]*>revoked<[\s\S]*get key/);
  });

  it('never shows a user ID unescaped', () => {
    const html = renderIndexPage({ search: 'x', keys: [key()], verbose: true, now: NOW });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain(SCRIPT_UID);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &lt;x@y&gt;');
  });

  it('never shows the search string unescaped (title, heading)', () => {
    const html = renderIndexPage({ search: EVIL_SEARCH, keys: [], verbose: false, now: NOW });
    expect(html).not.toContain('<img');
    expect(html).not.toContain(EVIL_SEARCH);
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    const withKeys = renderIndexPage({ search: EVIL_SEARCH, keys: [key()], verbose: true, now: NOW });
    expect(withKeys).not.toContain('<img');
  });

  it('says "No keys found" for an empty result', () => {
    const html = renderIndexPage({ search: 'nobody', keys: [], verbose: false, now: NOW });
    expect(html).toContain('No keys found');
  });

  it('leaves out v6 keys (the legacy lookup path never serves them)', () => {
    const v6 = key({ version: 6, fingerprint: 'C'.repeat(64), keyId: 'C'.repeat(16) });
    const html = renderIndexPage({ search: 'x', keys: [v6], verbose: false, now: NOW });
    expect(html).toContain('No keys found');
    expect(html).not.toContain('CCCC');
  });

  it('URL-encodes query values in links', () => {
    const html = renderIndexPage({ search: 'x', keys: [key({ fingerprint: 'ab"<&' })], verbose: false, now: NOW });
    expect(html).toContain('href="/pks/lookup?op=get&amp;search=0xAB%22%3C%26"');
  });

  it('lists signatures and subkeys only when verbose', () => {
    const uidSigs: IndexSignature[] = [
      { type: 0x13, issuerKeyId: '6D7E8F9012345678', created: 1_600_000_000, issuerUserId: null },
      { type: 0x10, issuerKeyId: '1122334455667788', created: 1_650_000_000, issuerUserId: 'Bob <b@x.org>' },
      { type: 0x30, issuerKeyId: null, created: 1_660_000_000, issuerUserId: null },
    ];
    const evilSigs: IndexSignature[] = [{ type: 0x13, issuerKeyId: '99AABBCCDDEEFF00', created: 1_600_000_000, issuerUserId: SCRIPT_UID }];
    const subSigs: IndexSignature[] = [{ type: 0x18, issuerKeyId: '6d7e8f9012345678', created: 1_600_000_000, issuerUserId: null }];
    const signatures = new Map([[FPR, { userIds: [uidSigs, evilSigs], subkeys: [subSigs] }]]);

    const plain = renderIndexPage({ search: 'x', keys: [key()], verbose: false, signatures, now: NOW });
    expect(plain).not.toContain('sig 0x13');
    expect(plain).not.toContain('BBBB BBBB');

    const html = renderIndexPage({ search: 'x', keys: [key()], verbose: true, signatures, now: NOW });
    expect(html).toContain('sig 0x13');
    expect(html).toContain('sig 0x10');
    expect(html).toContain('1122334455667788');
    expect(html).toContain('Bob &lt;b@x.org&gt;');
    expect(html).toContain('2022-04-15');
    expect(html).toContain('>rev<');
    expect(html).toContain('sig 0x18');
    expect(html).toContain('BBBB BBBB');
    expect(html).toContain('ECDH 256');
    expect(html).not.toContain('<script>');
  });

  it('finds signatures whatever the case of the map key', () => {
    const signatures = new Map([
      [FPR.toLowerCase(), { userIds: [[{ type: 0x12, issuerKeyId: null, created: 0, issuerUserId: null }]], subkeys: [] }],
    ]);
    const html = renderIndexPage({ search: 'x', keys: [key()], verbose: true, signatures, now: NOW });
    expect(html).toContain('sig 0x12');
  });
});

describe('renderSearchForm', () => {
  it('has a GET form to /pks/lookup with search, op and fingerprint=on', () => {
    const html = renderSearchForm();
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<title>keystore</title>');
    expect(html).toMatch(/<form method="get" action="\/pks\/lookup">/);
    expect(html).toMatch(/<input type="text"[^>]*name="search"/);
    for (const op of ['index', 'vindex', 'get']) expect(html).toContain(`name="op" value="${op}"`);
    expect(html).toContain('<input type="hidden" name="fingerprint" value="on">');
    expect(html).toContain('type="submit"');
    expect(html).toContain('--search-keys');
    expect(html).toContain('hkp://&lt;this host&gt;');
  });

  it('escapes a given host', () => {
    const html = renderSearchForm({ host: 'keys.example.org"><b>' });
    expect(html).toContain('hkp://keys.example.org&quot;&gt;&lt;b&gt;');
    expect(html).not.toContain('<b>');
  });
});

describe('renderKeyPage', () => {
  it('shows the escaped armor and a download link', () => {
    const armored = '-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: <script>x</script>\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n';
    const html = renderKeyPage({ fingerprint: FPR.toLowerCase(), armored });
    expect(html).toContain('<pre>-----BEGIN PGP PUBLIC KEY BLOCK-----');
    expect(html).toContain('Comment: &lt;script&gt;x&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain(`href="/pks/lookup?op=get&amp;options=mr&amp;search=0x${FPR}"`);
  });
});

describe('renderStatsPage', () => {
  it('shows the numbers and escapes text', () => {
    const html = renderStatsPage({
      version: '0.1.0<i>',
      totalKeys: 1178,
      started: '2026-01-01T00:00:00Z',
      inserted24h: 5,
      updated24h: 6,
      inserted7d: 70,
      updated7d: 80,
      hourly: [{ hour: '2026-01-02T10', inserted: 3, updated: 4 }],
      daily: [{ day: '2026-01-02', inserted: 11, updated: 12 }],
    });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('0.1.0&lt;i&gt;');
    expect(html).not.toContain('<i>');
    expect(html).toContain('1178');
    expect(html).toContain('2026-01-01T00:00:00Z');
    expect(html).toContain('<td>2026-01-02T10</td><td>3</td><td>4</td>');
    expect(html).toContain('<td>2026-01-02</td><td>11</td><td>12</td>');
  });
});
