// The frame of every page: <html lang>, the site's name and navigation, the footer's contact line, the
// stylesheet (and the script, on pages with copy buttons). Pure module: no I/O.
import { assetUrl } from './assets.js';
import { escapeHtml, html, type Html, type HtmlValue } from './template.js';

/** What pages say about the site (SITE_NAME, SITE_CONTACT, PUBLIC_URL, PUSH_POLICY) and this request. */
export interface SiteInfo {
  name: string;
  /** A line for the footer, e.g. "Run by IT services — keys@example.org"; plain text. */
  contact?: string | undefined;
  /** The server's external base URL (PUBLIC_URL, or the request's scheme and host), without a trailing slash. */
  baseUrl: string;
  pushPolicy: 'open' | 'token';
  version: string;
}

export const DEFAULT_SITE: SiteInfo = { name: 'keystore', baseUrl: 'http://<this host>', pushPolicy: 'open', version: '' };

export type Section = 'search' | 'browse' | 'stats' | 'none';

export interface PageOptions {
  site: SiteInfo;
  title: string;
  section?: Section;
  /** Pages with copy buttons load the script; the others work with none. */
  script?: boolean;
  main: HtmlValue;
}

const NAV: [Section, string, string][] = [
  ['search', '/', 'Search and upload'],
  ['browse', '/keys', 'Browse keys'],
  ['stats', '/stats', 'Statistics'],
];

// Tab titles stay short (a search or a user ID may be long): at most this many characters as written, escaped.
const MAX_TITLE = 70;

function shortTitle(full: string): string {
  if (escapeHtml(full).length <= MAX_TITLE) return full;
  let cut = full.slice(0, MAX_TITLE - 1);
  while (escapeHtml(cut).length > MAX_TITLE - 1) cut = cut.slice(0, -1);
  return `${cut}…`;
}

export function page(opts: PageOptions): string {
  const { site } = opts;
  const full = opts.title === site.name ? site.name : `${opts.title} · ${site.name}`;
  const title = shortTitle(full);
  const nav = NAV.map(([section, path, label]) => html`<a href="${path}"${opts.section === section ? html` aria-current="page"` : ''}>${label}</a>`);
  const doc: Html = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="${assetUrl('keystore.css')}">
<link rel="icon" href="${assetUrl('favicon.svg')}" type="image/svg+xml">
${opts.script ? html`<script src="${assetUrl('keystore.js')}" defer></script>\n` : ''}</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="site"><div class="bar"><a class="brand" href="/">${site.name}</a>
<nav aria-label="Site">${nav}</nav></div></header>
<main id="main">
${opts.main}
${
  opts.script
    ? html`<div id="copy-status" class="skip" role="status" aria-live="polite"></div>
`
    : ''
}</main>
<footer><div class="bar">${site.contact ? html`<p>${site.contact}</p>` : ''}<p>An OpenPGP key directory (HKP) · keystore${site.version ? html` ${site.version}` : ''}</p></div></footer>
</body>
</html>
`;
  return doc.value;
}
