// The web pages' rendering layer: the escaping template tag, the client commands, and each page (content,
// escaping, labelled fields, valid HTML).
import { describe, expect, it } from 'vitest';
import { dailyChart, niceCeiling } from '../../src/formats/html/chart.js';
import { fetchCommands, serverAddress, setupCommands } from '../../src/formats/html/clientCommands.js';
import {
  renderErrorPage,
  renderFrontPage,
  renderIndexPage,
  renderKeyDetailPage,
  renderKeyPage,
  renderListingPage,
  renderStatsPage,
  renderUploadPage,
  type KeyPageData,
  type SiteInfo,
} from '../../src/formats/html.js';
import { href, html, join, raw } from '../../src/formats/html/template.js';
import { everyDay } from '../../src/services/directoryService.js';
import { expectValidHtml } from '../helpers/validHtml.js';

const NOW = 1_700_000_000; // 2023-11-14
const FPR = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678';
const EVIL = '<script>alert(1)</script>"\'&';
const SITE: SiteInfo = {
  name: 'Example <Lab> keys',
  contact: 'Ask <it@example.org>',
  baseUrl: 'https://keys.example.org',
  pushPolicy: 'open',
  version: '1.2.3',
};

/** Every <input>, <textarea> and <select> but hidden ones has a <label for> naming its id, or sits in a <label>. */
function unlabelledFields(page: string): string[] {
  const labelled = new Set([...page.matchAll(/<label for="([^"]+)"/g)].map((m) => m[1]));
  const withoutWrappingLabels = page.replace(/<label>[\s\S]*?<\/label>/g, '');
  return [...withoutWrappingLabels.matchAll(/<(input|textarea|select)\b([^>]*)>/g)]
    .filter((m) => !/type="hidden"/.test(m[2]!))
    .filter((m) => !labelled.has(/id="([^"]+)"/.exec(m[2]!)?.[1]))
    .map((m) => m[0]);
}

describe('html`` template tag', () => {
  it('escapes inserted text, in content and attributes', () => {
    expect(html`<p title="${EVIL}">${EVIL}</p>`.value).toBe(
      '<p title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</p>',
    );
  });
  it('inserts Html as it is, joins arrays and renders nothing for null, undefined and false', () => {
    const inner = html`<b>${'a<b'}</b>`;
    expect(html`${inner}${[html`<i>1</i>`, '<2>']}${null}${undefined}${false}${0}`.value).toBe('<b>a&lt;b</b><i>1</i>&lt;2&gt;0');
    expect(join(['<a>', raw('<br>'), 'b'], raw(' | ')).value).toBe('&lt;a&gt; | <br> | b');
  });
  it('URL-encodes query values in href', () => {
    expect(
      href('/pks/lookup', [
        ['op', 'get'],
        ['search', 'a b&"<'],
      ]),
    ).toBe('/pks/lookup?op=get&search=a%20b%26%22%3C');
  });
});

describe('client commands', () => {
  it('uses hkps for https, hkp without a port for 11371, and writes other ports out', () => {
    expect(serverAddress('https://keys.example.org').hkpUrl).toBe('hkps://keys.example.org');
    expect(serverAddress('http://keys.example.org:11371').hkpUrl).toBe('hkp://keys.example.org');
    expect(serverAddress('http://127.0.0.1:8080').hkpUrl).toBe('hkp://127.0.0.1:8080');
    expect(serverAddress('http://keys.example.org').hkpUrl).toBe('hkp://keys.example.org:80');
  });
  it('writes Singularity, Apptainer, gpg, sq and curl commands for the address', () => {
    const https = setupCommands(serverAddress('https://keys.example.org'));
    expect(https.singularity).toContain('singularity keyserver add --order 1 keystore https://keys.example.org');
    expect(https.singularity).toContain('singularity remote add --no-login keystore keys.example.org');
    expect(https.singularity).toContain('singularity verify --url https://keys.example.org image.sif');
    expect(https.apptainer[0]).toBe('apptainer keyserver add --order 1 keystore https://keys.example.org');
    expect(https.dirmngr).toEqual(['keyserver hkps://keys.example.org']);
    expect(https.sq[0]).toBe('sq keyserver -s hkps://keys.example.org get alice@example.org');
    expect(https.curl).toContain('curl --data-urlencode keytext@mykey.asc https://keys.example.org/pks/add');
    const http = setupCommands(serverAddress('http://127.0.0.1:8080'));
    expect(http.singularity).toContain('singularity remote add --insecure --no-login keystore 127.0.0.1:8080');
    expect(http.sq[0]).toBe('sq keyserver -p insecure -s hkp://127.0.0.1:8080 get alice@example.org');
    expect(fetchCommands(serverAddress('https://keys.example.org'), FPR)).toEqual([
      `singularity key pull --url https://keys.example.org ${FPR}`,
      `apptainer key pull --url https://keys.example.org ${FPR}`,
      `gpg --keyserver hkps://keys.example.org --recv-keys ${FPR}`,
      `curl -o ${FPR}.asc https://keys.example.org/keys/${FPR}.asc`,
    ]);
  });
});

describe('front page', () => {
  it('has the search box, the upload form, the commands for this address, the site name and contact', async () => {
    const page = renderFrontPage(SITE);
    expect(page).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(page).toContain('<title>Example &lt;Lab&gt; keys</title>');
    expect(page).toContain('Ask &lt;it@example.org&gt;');
    expect(page).toMatch(/<form method="post" action="\/upload" enctype="multipart\/form-data">/);
    expect(page).toContain('name="keytext"');
    expect(page).toContain('type="file" id="keyfile" name="keyfile"');
    expect(page).not.toContain('name="token"');
    expect(page).toContain('keyserver hkps://keys.example.org');
    expect(page).toContain('singularity keyserver add --order 1 keystore https://keys.example.org');
    expect(page).toContain('apptainer key pull FINGERPRINT');
    expect(unlabelledFields(page)).toEqual([]);
    await expectValidHtml(page, 'front page');
  });
  it('asks for a token when pushes need one', async () => {
    const page = renderFrontPage({ ...SITE, pushPolicy: 'token' });
    expect(page).toMatch(
      /<label for="token">Access token<\/label>\n<input type="password" id="token" name="token" required autocomplete="current-password"/,
    );
    expect(unlabelledFields(page)).toEqual([]);
    await expectValidHtml(page, 'front page with token');
  });
  it('escapes a hostile request host in the commands', () => {
    const page = renderFrontPage({ ...SITE, baseUrl: 'http://x"><script>y</script>' });
    expect(page).not.toContain('<script>y');
    expect(page).toContain('&lt;script&gt;y&lt;/script&gt;');
  });
});

function keyPageData(overrides: Partial<KeyPageData> = {}): KeyPageData {
  return {
    fingerprint: FPR,
    keyId: FPR.slice(-16),
    version: 4,
    algorithm: 1,
    bits: 4096,
    created: 1_600_000_000,
    expires: null,
    revoked: false,
    capabilities: 'cs',
    revocation: null,
    firstSeen: new Date('2026-12-01T10:00:00Z'),
    lastChanged: new Date('2026-12-02T10:00:00Z'),
    size: 4321,
    userAttributeCount: 1,
    userIds: [
      { text: 'Alice <alice@example.org>', created: 1_600_000_000, expires: null, revoked: false, primary: true },
      { text: EVIL, created: 1_600_000_100, expires: NOW - 5, revoked: false, primary: false },
    ],
    userIdSignatures: [
      [
        { type: 0x13, issuerKeyId: FPR.slice(-16), created: 1_600_000_000, self: true, issuer: null },
        {
          type: 0x10,
          issuerKeyId: '1122334455667788',
          created: 1_650_000_000,
          self: false,
          issuer: { fingerprint: 'C'.repeat(40), userId: `Bob ${EVIL}` },
        },
        { type: 0x12, issuerKeyId: '99AABBCCDDEEFF00', created: 1_660_000_000, self: false, issuer: null },
      ],
      [],
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
        capabilities: 'e',
        revocation: null,
      },
      {
        fingerprint: 'D'.repeat(40),
        keyId: 'D'.repeat(16),
        algorithm: 22,
        bits: 255,
        created: 1_600_000_000,
        expires: null,
        revoked: true,
        capabilities: 'sa',
        revocation: { code: 2, text: `lost ${EVIL}` },
      },
      {
        fingerprint: 'E'.repeat(40),
        keyId: 'E'.repeat(16),
        algorithm: 1,
        bits: 2048,
        created: 1_600_000_000,
        expires: null,
        revoked: false,
        capabilities: null,
        revocation: null,
      },
    ],
    ...overrides,
  };
}

describe('key page', () => {
  it('shows the grouped fingerprint with a copy button, the facts, downloads and fetch commands', async () => {
    const page = renderKeyDetailPage(keyPageData(), SITE, NOW);
    expect(page).toContain('<h1>Alice &lt;alice@example.org&gt;</h1>');
    expect(page).toContain('A1B2 C3D4 E5F6 0718 293A 4B5C 6D7E 8F90 1234 5678');
    expect(page).toContain(`data-copy="${FPR}"`);
    expect(page).toMatch(/<script src="\/static\/keystore\.js\?v=[0-9a-f]+" defer><\/script>/);
    expect(page).toContain('RSA 4096');
    expect(page).toContain('certify, sign');
    expect(page).toContain('2020-09-13');
    expect(page).toContain(`href="/keys/${FPR}.asc" download="${FPR}.asc"`);
    expect(page).toContain(`href="/keys/${FPR}.pgp" download="${FPR}.pgp"`);
    expect(page).toContain(`singularity key pull --url https://keys.example.org ${FPR}`);
    expect(page).toContain(`gpg --keyserver hkps://keys.example.org --recv-keys ${FPR}`);
    expect(page).toContain('photo ID');
    await expectValidHtml(page, 'key page');
  });

  it('shows each user ID with its status and signatures, naming and linking issuers stored here', () => {
    const page = renderKeyDetailPage(keyPageData(), SITE, NOW);
    expect(page).toMatch(/<h3>Alice &lt;alice@example.org&gt;<\/h3>\n<p class="meta"><span class="status valid">valid<\/span> primary user ID/);
    expect(page).toMatch(/<h3>&lt;script&gt;[^<]*<\/h3>\n<p class="meta"><span class="status expired">expired<\/span>/);
    expect(page).toContain('positive certification by this key');
    expect(page).toContain(`certification by <a href="/keys/${'C'.repeat(40)}">Bob &lt;script&gt;`);
    expect(page).toContain('<code>99AABBCCDDEEFF00</code> <span class="muted">(not stored here)</span>');
    expect(page).toContain('3 signatures, 2 by other keys');
    expect(page).not.toContain('<script>alert');
  });

  it('shows subkeys with capabilities, expiry, revocation with its reason', () => {
    const page = renderKeyDetailPage(keyPageData(), SITE, NOW);
    expect(page).toContain('BBBB BBBB');
    expect(page).toMatch(/ECDH 256[\s\S]*encrypt[\s\S]*2023-11-14 <span class="status expired">expired<\/span>/);
    expect(page).toMatch(
      /EdDSA 255[\s\S]*sign, authenticate[\s\S]*<span class="status revoked">revoked<\/span> key compromised: “lost &lt;script&gt;/,
    );
    expect(page).toContain('not recorded');
  });

  it('shows a revoked key with its reason, and an expired key as expired', async () => {
    const revoked = renderKeyDetailPage(keyPageData({ revoked: true, revocation: { code: 1, text: 'see my new key' } }), SITE, NOW);
    expect(revoked).toContain('<dt>Status</dt><dd><span class="status revoked">revoked</span> key superseded: “see my new key”</dd>');
    const expired = renderKeyDetailPage(keyPageData({ expires: NOW - 86_400 }), SITE, NOW);
    expect(expired).toContain('<dt>Expires</dt><dd>2023-11-13 <span class="status expired">expired</span></dd>');
    const noUid = renderKeyDetailPage(keyPageData({ userIds: [], userIdSignatures: [] }), SITE, NOW);
    expect(noUid).toContain(`<h1>Key ${FPR.slice(-16)}</h1>`);
    await expectValidHtml(noUid, 'key page without user IDs');
  });
});

describe('listing page', () => {
  const summary = (i: number) => ({
    fingerprint: i.toString(16).toUpperCase().padStart(40, '0'),
    algorithm: 22,
    bits: 255,
    created: 1_600_000_000,
    expires: null,
    revoked: false,
    firstSeen: new Date('2026-12-01T00:00:00Z'),
    userIds: Array.from({ length: 5 }, (_, n) => ({ text: `Key ${i} uid ${n} ${EVIL}`, revoked: false, expires: null })),
  });
  it('links each key, shows three user IDs and the count of the others, and pages', async () => {
    const page = renderListingPage({ keys: [summary(1), summary(2)], page: 2, pageSize: 2, hasNext: true, total: 7 }, SITE, NOW);
    expect(page).toContain(`href="/keys/${'0'.repeat(39)}1"`);
    expect(page).toContain('and 2 more user IDs');
    expect(page).toContain('Key 1 uid 2');
    expect(page).not.toContain('Key 1 uid 3');
    expect(page).toContain('<a class="button secondary" rel="prev" href="/keys">');
    expect(page).toContain('<a class="button secondary" rel="next" href="/keys?page=3">');
    expect(page).toContain('Page 2 of 4');
    expect(page).toContain('Keys 3 to 4');
    expect(page).not.toContain('<script>alert');
    await expectValidHtml(page, 'listing');
    const last = renderListingPage({ keys: [summary(1)], page: 4, pageSize: 2, hasNext: false, total: 7 }, SITE, NOW);
    expect(last).toContain('href="/keys?page=3"');
    expect(last).not.toContain('rel="next"');
  });
  it('says so when the directory is empty', async () => {
    const page = renderListingPage({ keys: [], page: 1, pageSize: 25, hasNext: false, total: 0 }, SITE, NOW);
    expect(page).toContain('No keys yet');
    await expectValidHtml(page, 'empty listing');
  });
});

describe('statistics page and chart', () => {
  it('rounds the axis up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 1, 3, 10, 11, 230, 1187].map(niceCeiling)).toEqual([1, 1, 5, 10, 20, 500, 2000]);
  });
  it('fills the days without changes with zeros, oldest first', () => {
    const days = everyDay([{ day: '2026-12-01', inserted: 3, updated: 1 }], new Date('2026-12-03T15:00:00Z'), 4);
    expect(days).toEqual([
      { day: '2026-11-30', inserted: 0, updated: 0 },
      { day: '2026-12-01', inserted: 3, updated: 1 },
      { day: '2026-12-02', inserted: 0, updated: 0 },
      { day: '2026-12-03', inserted: 0, updated: 0 },
    ]);
  });
  it('draws two bars a day, each as high as its count, with a title naming the day', () => {
    const svg = dailyChart(
      [
        { day: '2026-12-01', inserted: 10, updated: 5 },
        { day: '2026-12-02', inserted: 0, updated: 10 },
      ],
      't',
    ).value;
    const heights = [...svg.matchAll(/<rect class="(inserted|updated)"[^>]* height="([\d.]+)"/g)].map((m) => [m[1], Number(m[2])]);
    expect(heights).toHaveLength(4);
    expect(heights[0]![1]).toBeCloseTo(2 * (heights[1]![1] as number));
    expect(heights[2]![1]).toBe(0);
    expect(heights[3]![1]).toBe(heights[0]![1]);
    expect(svg).toContain('<title>2026-12-01: 10 added, 5 updated</title>');
    expect(svg).toContain('aria-labelledby="t"');
  });
  it('is a valid page with the chart, the totals and the tables', async () => {
    const page = renderStatsPage(
      {
        version: '1<b>',
        totalKeys: 12,
        started: '2026-12-01T00:00:00Z',
        inserted24h: 2,
        updated24h: 3,
        inserted7d: 4,
        updated7d: 5,
        hourly: [{ hour: '2026-12-03T10', inserted: 2, updated: 3 }],
        daily: [{ day: '2026-12-03', inserted: 2, updated: 3 }],
        perDay: everyDay([{ day: '2026-12-03', inserted: 2, updated: 3 }], new Date('2026-12-03T12:00:00Z'), 30),
      },
      SITE,
    );
    expect(page).toContain('<svg class="chart"');
    expect(page.match(/<rect /g)).toHaveLength(60);
    expect(page).toContain('1&lt;b&gt;');
    expect(page).not.toContain('<script');
    await expectValidHtml(page, 'stats');
  });
});

describe('upload result page', () => {
  it('tells what became of each key, links it, and lists what was left out and refused, with reasons', async () => {
    const page = renderUploadPage(
      {
        inserted: [FPR],
        updated: ['C'.repeat(40)],
        unchanged: ['D'.repeat(40)],
        rejected: [{ fingerprint: 'E'.repeat(40), reason: `secret key material is refused ${EVIL}` }, { reason: 'malformed OpenPGP data' }],
        dropped: [{ fingerprint: FPR, component: 'user ID "x"', reason: 'user ID longer than 1024 bytes' }],
      },
      SITE,
    );
    expect(page).toContain('<h1>3 keys received</h1>');
    expect(page).toContain(`<li class="inserted"><strong>added: new in the directory</strong><br><a class="fpr" href="/keys/${FPR}">`);
    expect(page).toContain(`<li class="updated">`);
    expect(page).toContain(`<li class="unchanged">`);
    expect(page).toContain('user ID &quot;x&quot;: user ID longer than 1024 bytes');
    expect(page).toContain('<strong>rejected:</strong> secret key material is refused &lt;script&gt;');
    expect(page).toContain('<strong>rejected:</strong> malformed OpenPGP data');
    expect(page).toContain('1 added, 1 updated, 1 unchanged, 2 rejected, 1 component left out.');
    await expectValidHtml(page, 'upload result');
  });
  it('says nothing was published when every key was refused', () => {
    const page = renderUploadPage({ inserted: [], updated: [], unchanged: [], rejected: [{ reason: 'no user ID' }], dropped: [] }, SITE);
    expect(page).toContain('<h1>Nothing was published</h1>');
  });
});

describe('error page and the HKP pages', () => {
  it('shows the status and the escaped message, with a way on', async () => {
    const page = renderErrorPage({ status: 404, message: `no key ${EVIL}` }, SITE);
    expect(page).toContain('<h1>Not found</h1>');
    expect(page).toContain('<p class="notice">no key &lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</p>');
    expect(page).toContain('action="/pks/lookup"');
    await expectValidHtml(page, 'error page');
  });
  it('index, vindex and get pages validate', async () => {
    const key = {
      fingerprint: FPR,
      keyId: FPR.slice(-16),
      version: 4,
      algorithm: 1,
      bits: 4096,
      created: 1_600_000_000,
      expires: null,
      revoked: false,
      userIds: [{ text: EVIL, created: 1_600_000_000, expires: null, revoked: false }],
      subkeys: [
        { fingerprint: 'B'.repeat(40), keyId: 'B'.repeat(16), algorithm: 18, bits: 256, created: 1_600_000_000, expires: null, revoked: false },
      ],
    };
    const signatures = new Map([
      [FPR, { userIds: [[{ type: 0x13, issuerKeyId: FPR.slice(-16), created: 1_600_000_000, issuerUserId: null }]], subkeys: [[]] }],
    ]);
    await expectValidHtml(renderIndexPage({ search: EVIL, keys: [key], verbose: false, now: NOW, site: SITE }), 'index');
    await expectValidHtml(renderIndexPage({ search: 'x', keys: [key], verbose: true, signatures, now: NOW, site: SITE }), 'vindex');
    await expectValidHtml(renderIndexPage({ search: 'x', keys: [], verbose: false, now: NOW, site: SITE }), 'no results');
    await expectValidHtml(
      renderKeyPage({ fingerprint: FPR, armored: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n', site: SITE }),
      'get',
    );
  });
});
