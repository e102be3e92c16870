// The web interface in a real headless Chromium (Debian's /usr/bin/chromium, driven by puppeteer-core): search,
// open a key's page, copy its fingerprint, download it, upload from a file and pasted, a refused upload, page
// through the listing, the chart. One browser for the whole file; pages must not overflow a 390 px screen.
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushKeys } from '../helpers/hkp.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { e2eBackend, tempDir } from './helpers/run.js';

const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const grouped = (fpr: string) => fpr.match(/.{4}/g)!.join(' ');

describe.skipIf(!existsSync(CHROMIUM))(`the web interface in Chromium on ${e2eBackend}`, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let dir: string;
  let alice: TestKey;
  let bob: TestKey;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await startTestServer(e2eBackend);
    dir = await tempDir('e2e-browser-');
    [alice, bob] = await Promise.all([
      makeKey([{ name: 'Alice Browser', email: 'alice@browser.example' }]),
      makeKey([{ name: 'Bob Notary', email: 'bob@browser.example' }]),
    ]);
    await pushKeys(server.url, bob.armored);
    await pushKeys(server.url, (await alice.publicKey.signAllUsers([bob.privateKey])).armor());
    // More than a page of the listing (25 keys).
    const more = await Promise.all(Array.from({ length: 26 }, (_, i) => makeKey([{ name: `Listed ${i}`, email: `listed${i}@browser.example` }])));
    expect((await pushKeys(server.url, more.map((k) => k.armored).join('\n'))).json.inserted).toHaveLength(26);

    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: join(dir, 'profile'),
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 30_000,
    });
    await browser.defaultBrowserContext().overridePermissions(server.url, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
    page = await browser.newPage();
    await page.setViewport({ width: 390, height: 844 });
    // Any script error, CSP refusal or failed load is a failure of the page.
    // (The refused upload's 422 is logged as a failed load: expected.)
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().includes('422')) problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().includes('/upload')) problems.push(`${r.status()} ${r.url()}`);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Nothing wider than the 390 px screen (no sideways scrolling of the whole page). */
  const expectFitsPhone = async (what: string) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width, what).toBeLessThanOrEqual(390);
  };

  it('searches, opens the key page, copies the fingerprint and downloads the key', async () => {
    await page.goto(`${server.url}/`);
    await expectFitsPhone('front page');
    await page.type('#search', 'alice@browser.example');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/pks/lookup"] button[type=submit]')]);
    expect(await page.content()).toContain(grouped(alice.fingerprint));
    await Promise.all([page.waitForNavigation(), page.click(`a.fpr[href="/keys/${alice.fingerprint}"]`)]);
    expect(new URL(page.url()).pathname).toBe(`/keys/${alice.fingerprint}`);
    expect(await page.$eval('h1', (h) => h.textContent)).toBe('Alice Browser <alice@browser.example>');
    expect(await page.$eval('#fingerprint', (c) => c.textContent)).toBe(grouped(alice.fingerprint));
    expect(await page.content()).toContain('Bob Notary &lt;bob@browser.example&gt;');
    await expectFitsPhone('key page');

    // The copy button is shown by the script and puts the fingerprint, without spaces, on the clipboard.
    const copy = await page.waitForSelector('.fingerprint-box button.copy:not([hidden])');
    await copy!.click();
    await page.waitForFunction(() => document.querySelector('.fingerprint-box button.copy')?.textContent === 'Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(alice.fingerprint);

    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir });
    await page.click(`a[href="/keys/${alice.fingerprint}.asc"]`);
    const file = join(dir, `${alice.fingerprint}.asc`);
    for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
    const key = await openpgp.readKey({ armoredKey: await readFile(file, 'utf8') });
    expect(key.getFingerprint().toUpperCase()).toBe(alice.fingerprint);
    expect(await readdir(dir)).toContain(`${alice.fingerprint}.asc`);
  });

  it('uploads a key from a file and one pasted, and shows why a bad upload was refused', async () => {
    const [fromFile, pasted] = await Promise.all([
      makeKey([{ name: 'File Upload', email: 'file@browser.example' }]),
      makeKey([{ name: 'Pasted Upload', email: 'pasted@browser.example' }]),
    ]);
    const keyFile = join(dir, 'upload.asc');
    await writeFile(keyFile, fromFile.armored);
    await page.goto(`${server.url}/`);
    const input = await page.$('#keyfile');
    await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(keyFile);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/upload"] button[type=submit]')]);
    expect(await page.$eval('.outcome', (o) => o.textContent)).toContain('added: new in the directory');
    expect(await page.$eval('.outcome a.fpr', (a) => a.getAttribute('href'))).toBe(`/keys/${fromFile.fingerprint}`);

    // The result page has the form again: paste the next key there.
    await page.$eval(
      '#keytext',
      (t, text) => {
        (t as HTMLTextAreaElement).value = text;
      },
      pasted.armored,
    );
    await Promise.all([page.waitForNavigation(), page.click('form[action="/upload"] button[type=submit]')]);
    expect(await page.$eval('.outcome', (o) => o.textContent)).toContain(grouped(pasted.fingerprint));
    await expectFitsPhone('upload result');

    await page.goto(`${server.url}/`);
    await page.$eval(
      '#keytext',
      (t, text) => {
        (t as HTMLTextAreaElement).value = text;
      },
      pasted.privateKey.armor(),
    );
    await Promise.all([page.waitForNavigation(), page.click('form[action="/upload"] button[type=submit]')]);
    expect(await page.$eval('h1', (h) => h.textContent)).toBe('Nothing was published');
    expect(await page.$eval('.outcome .rejected', (o) => o.textContent)).toContain('secret key material is refused');
  });

  it('pages through the listing', async () => {
    await page.goto(`${server.url}/keys`);
    const firstPage = await page.$$eval('article.key a.fpr', (as) => as.map((a) => a.textContent));
    expect(firstPage).toHaveLength(25);
    await expectFitsPhone('listing');
    await Promise.all([page.waitForNavigation(), page.click('a[rel=next]')]);
    expect(page.url()).toBe(`${server.url}/keys?page=2`);
    const secondPage = await page.$$eval('article.key a.fpr', (as) => as.map((a) => a.textContent));
    expect(secondPage.length).toBeGreaterThan(0);
    expect(secondPage.some((f) => firstPage.includes(f))).toBe(false);
    expect(secondPage).toContain(grouped(bob.fingerprint));
    await Promise.all([page.waitForNavigation(), page.click('a[rel=prev]')]);
    expect(page.url()).toBe(`${server.url}/keys`);
  });

  it('draws the chart of keys added and updated per day', async () => {
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`${server.url}/stats`);
    const chart = await page.$eval('svg.chart', (svg) => {
      const box = svg.getBoundingClientRect();
      const bars = [...svg.querySelectorAll('rect')].map((r) => ({
        cls: r.getAttribute('class'),
        height: r.getBoundingClientRect().height,
        fill: getComputedStyle(r).fill,
      }));
      return { width: box.width, height: box.height, bars };
    });
    expect(chart.width).toBeGreaterThan(300);
    expect(chart.height).toBeGreaterThan(100);
    expect(chart.bars).toHaveLength(60);
    // Today's added bar is drawn, in the stylesheet's colour (served by the server, allowed by the CSP).
    const today = chart.bars[58]!;
    expect(today.cls).toBe('inserted');
    expect(today.height).toBeGreaterThan(10);
    expect(today.fill).toBe('rgb(11, 74, 158)');
    expect(problems).toEqual([]);
  });
});
