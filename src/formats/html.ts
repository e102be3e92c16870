// HTML pages for people using a browser: search form, index/vindex results, a key, statistics. No JavaScript.
// Every value that comes from a key, from the request or from the database goes through escapeHtml().
//
// v6 keys: the HTML index leaves them out, like the machine-readable index. They are found through /pks/lookup,
// which never serves v6 keys (gpg 2.2 cannot read them), so the "get" link of a v6 key would lead nowhere.
// Pure module: no I/O.

import { algorithmName, type IndexKey, type IndexSignature, type IndexSubkey } from './machineReadableIndex.js';

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Signatures of one key for vindex, in the same order as the key's userIds and subkeys. */
export interface KeySignatures {
  userIds: IndexSignature[][];
  subkeys: IndexSignature[][];
}

export interface IndexPageOptions {
  search: string;
  keys: IndexKey[];
  /** vindex: list signatures and subkeys. */
  verbose: boolean;
  /** Keyed by primary-key fingerprint (any case). */
  signatures?: Map<string, KeySignatures>;
  /** Unix seconds. */
  now: number;
}

export interface StatsPageData {
  version: string;
  totalKeys: number;
  started: string;
  inserted24h: number;
  updated24h: number;
  inserted7d: number;
  updated7d: number;
  hourly: { hour: string; inserted: number; updated: number }[];
  daily: { day: string; inserted: number; updated: number }[];
}

const CSS = `
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.5rem}
code,pre,.fpr{font-family:ui-monospace,monospace}
pre{background:#f5f5f5;padding:.75rem;overflow-x:auto;white-space:pre}
.key{border:1px solid #ccc;border-radius:4px;padding:.5rem 1rem;margin:1rem 0}
.fpr{font-weight:bold;word-spacing:.1rem}
ul{margin:.25rem 0;padding-left:1.25rem}
.sigs{font-size:.9rem;color:#444}
.revoked{color:#b00}.expired{color:#a60}.valid{color:#070}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
form label{margin-right:.75rem}
`.trim();

function page(title: string, body: string): string {
  return (
    '<!doctype html>\n' +
    '<html lang="en">\n' +
    '<head>\n' +
    '<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${escapeHtml(title)}</title>\n` +
    `<style>\n${CSS}\n</style>\n` +
    '</head>\n' +
    '<body>\n' +
    body +
    '</body>\n' +
    '</html>\n'
  );
}

/** `/pks/lookup?a=b&c=d` with URL-encoded values, HTML-escaped for use in an attribute. */
function lookupHref(params: [string, string][]): string {
  const query = params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return escapeHtml(`/pks/lookup?${query}`);
}

/** Fingerprint in groups of four characters separated by spaces, upper case. */
export function groupFingerprint(fingerprint: string): string {
  const fpr = fingerprint.toUpperCase().replace(/\s+/g, '');
  return (fpr.match(/.{1,4}/g) ?? []).join(' ');
}

/** YYYY-MM-DD (UTC) of a Unix time in seconds. */
export function formatDate(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? '?' : d.toISOString().slice(0, 10);
}

type Status = 'revoked' | 'expired' | 'valid';

function status(revoked: boolean, expires: number | null, now: number): Status {
  if (revoked) return 'revoked';
  if (expires !== null && expires <= now) return 'expired';
  return 'valid';
}

function statusHtml(s: Status): string {
  return `<span class="${s}">${s}</span>`;
}

function expiryText(expires: number | null): string {
  return expires === null ? 'never' : formatDate(expires);
}

/** Short label of a signature type: "rev" for revocations, otherwise "sig 0xNN". */
export function signatureLabel(type: number): string {
  if (type === 0x20 || type === 0x28 || type === 0x30) return 'rev';
  return `sig 0x${type.toString(16).toUpperCase().padStart(2, '0')}`;
}

function signatureList(sigs: IndexSignature[] | undefined, ownKeyId: string): string {
  if (sigs === undefined || sigs.length === 0) return '';
  const own = ownKeyId.toUpperCase();
  const items = sigs.map((sig) => {
    const issuer = sig.issuerKeyId === null ? 'unknown issuer' : sig.issuerKeyId.toUpperCase();
    let item = `<code>${escapeHtml(signatureLabel(sig.type))}</code> <code>${escapeHtml(issuer)}</code> ${escapeHtml(formatDate(sig.created))}`;
    if (sig.issuerKeyId !== null && issuer === own) {
      item += ' [self]';
    } else if (sig.issuerUserId !== null) {
      item += ` ${escapeHtml(sig.issuerUserId)}`;
    }
    return `<li>${item}</li>`;
  });
  return `<ul class="sigs">\n${items.join('\n')}\n</ul>`;
}

function findSignatures(map: Map<string, KeySignatures> | undefined, fingerprint: string): KeySignatures | undefined {
  if (map === undefined) return undefined;
  return map.get(fingerprint) ?? map.get(fingerprint.toUpperCase()) ?? map.get(fingerprint.toLowerCase());
}

function subkeyHtml(sub: IndexSubkey, sigs: IndexSignature[] | undefined, primaryKeyId: string, now: number): string {
  return (
    `<li>sub <span class="fpr">${escapeHtml(groupFingerprint(sub.fingerprint))}</span> ` +
    `${escapeHtml(algorithmName(sub.algorithm))} ${escapeHtml(String(sub.bits))}, ` +
    `created ${escapeHtml(formatDate(sub.created))}, expires ${escapeHtml(expiryText(sub.expires))}, ` +
    `${statusHtml(status(sub.revoked, sub.expires, now))}` +
    `${signatureList(sigs, primaryKeyId)}</li>`
  );
}

function keyHtml(key: IndexKey, verbose: boolean, sigs: KeySignatures | undefined, now: number): string {
  const fpr = key.fingerprint.toUpperCase();
  const getHref = lookupHref([
    ['op', 'get'],
    ['search', `0x${fpr}`],
  ]);
  const vindexHref = lookupHref([
    ['op', 'vindex'],
    ['fingerprint', 'on'],
    ['search', `0x${fpr}`],
  ]);
  let html = '<div class="key">\n';
  html += `<p>pub <span class="fpr">${escapeHtml(groupFingerprint(fpr))}</span><br>\n`;
  html +=
    `${escapeHtml(algorithmName(key.algorithm))} ${escapeHtml(String(key.bits))}, ` +
    `created ${escapeHtml(formatDate(key.created))}, expires ${escapeHtml(expiryText(key.expires))}, ` +
    `${statusHtml(status(key.revoked, key.expires, now))}<br>\n`;
  html += `<a href="${getHref}">get key</a> · <a href="${vindexHref}">signatures</a></p>\n`;

  html += '<ul>\n';
  key.userIds.forEach((uid, i) => {
    html +=
      `<li>uid <strong>${escapeHtml(uid.text)}</strong> ` +
      `(${statusHtml(status(uid.revoked, uid.expires, now))})` +
      (verbose ? signatureList(sigs?.userIds[i], key.keyId) : '') +
      '</li>\n';
  });
  html += '</ul>\n';

  if (verbose && key.subkeys !== undefined && key.subkeys.length > 0) {
    html += '<ul>\n';
    key.subkeys.forEach((sub, i) => {
      html += subkeyHtml(sub, sigs?.subkeys[i], key.keyId, now) + '\n';
    });
    html += '</ul>\n';
  }
  html += '</div>\n';
  return html;
}

/** Result page of op=index (verbose = false) or op=vindex (verbose = true) for browsers. */
export function renderIndexPage(opts: IndexPageOptions): string {
  // v4 only: see the comment at the top of this file.
  const keys = opts.keys.filter((k) => k.version === 4);
  const search = escapeHtml(opts.search);
  let body = `<h1>Search results for “${search}”</h1>\n`;
  if (keys.length === 0) {
    body += `<p>No keys found for “${search}”.</p>\n`;
  } else {
    body += `<p>${keys.length} key${keys.length === 1 ? '' : 's'} found.</p>\n`;
    for (const key of keys) {
      body += keyHtml(key, opts.verbose, findSignatures(opts.signatures, key.fingerprint), opts.now);
    }
  }
  body += '<p><a href="/">New search</a></p>\n';
  return page(`keystore: ${opts.verbose ? 'vindex' : 'index'} “${opts.search}”`, body);
}

/** The page for `/`. `host` (e.g. "keys.example.org:11371") is shown in the gpg example when known. */
export function renderSearchForm(opts: { host?: string } = {}): string {
  const host = escapeHtml(opts.host ?? '<this host>');
  const body =
    '<h1>keystore</h1>\n' +
    '<p>An OpenPGP public-key server speaking HKP. Search by name, e-mail address, key ID or fingerprint ' +
    '(<code>0x</code> followed by 8, 16 or 40 hex digits).</p>\n' +
    '<form method="get" action="/pks/lookup">\n' +
    '<p><label for="search">Search</label> <input type="text" id="search" name="search" size="50" required></p>\n' +
    '<p>\n' +
    '<label><input type="radio" name="op" value="index" checked> index</label>\n' +
    '<label><input type="radio" name="op" value="vindex"> verbose index (signatures)</label>\n' +
    '<label><input type="radio" name="op" value="get"> get key</label>\n' +
    '</p>\n' +
    '<input type="hidden" name="fingerprint" value="on">\n' +
    '<p><button type="submit">Search</button></p>\n' +
    '</form>\n' +
    '<h2>Using gpg</h2>\n' +
    `<pre>gpg --keyserver hkp://${host} --search-keys alice@example.org\n` +
    `gpg --keyserver hkp://${host} --recv-keys 0xFINGERPRINT\n` +
    `gpg --keyserver hkp://${host} --send-keys FINGERPRINT</pre>\n` +
    `<p><a href="${lookupHref([['op', 'stats']])}">Server statistics</a></p>\n`;
  return page('keystore', body);
}

/** op=get for a browser: the armored key in a <pre>, plus a download link. */
export function renderKeyPage(opts: { fingerprint: string; armored: string }): string {
  const fpr = opts.fingerprint.toUpperCase();
  const href = lookupHref([
    ['op', 'get'],
    ['options', 'mr'],
    ['search', `0x${fpr}`],
  ]);
  const body =
    `<h1>Key <span class="fpr">${escapeHtml(groupFingerprint(fpr))}</span></h1>\n` +
    `<p><a href="${href}" download="${escapeHtml(`0x${fpr}.asc`)}">Download</a> · <a href="/">New search</a></p>\n` +
    `<pre>${escapeHtml(opts.armored)}</pre>\n`;
  return page(`keystore: key 0x${fpr}`, body);
}

function countRows(rows: { label: string; inserted: number; updated: number }[], heading: string): string {
  if (rows.length === 0) return '<p>No data.</p>\n';
  const trs = rows.map(
    (r) =>
      `<tr><td>${escapeHtml(r.label)}</td><td>${escapeHtml(String(r.inserted))}</td><td>${escapeHtml(String(r.updated))}</td></tr>`,
  );
  return `<table>\n<tr><th>${escapeHtml(heading)}</th><th>inserted</th><th>updated</th></tr>\n${trs.join('\n')}\n</table>\n`;
}

/** op=stats for a browser. */
export function renderStatsPage(stats: StatsPageData): string {
  const n = (x: number): string => escapeHtml(String(x));
  const body =
    '<h1>keystore statistics</h1>\n' +
    '<table>\n' +
    `<tr><td>Version</td><td>${escapeHtml(stats.version)}</td></tr>\n` +
    `<tr><td>Keys</td><td>${n(stats.totalKeys)}</td></tr>\n` +
    `<tr><td>Running since</td><td>${escapeHtml(stats.started)}</td></tr>\n` +
    `<tr><td>Inserted, last 24 hours</td><td>${n(stats.inserted24h)}</td></tr>\n` +
    `<tr><td>Updated, last 24 hours</td><td>${n(stats.updated24h)}</td></tr>\n` +
    `<tr><td>Inserted, last 7 days</td><td>${n(stats.inserted7d)}</td></tr>\n` +
    `<tr><td>Updated, last 7 days</td><td>${n(stats.updated7d)}</td></tr>\n` +
    '</table>\n' +
    '<h2>Hourly</h2>\n' +
    countRows(
      stats.hourly.map((h) => ({ label: h.hour, inserted: h.inserted, updated: h.updated })),
      'hour',
    ) +
    '<h2>Daily</h2>\n' +
    countRows(
      stats.daily.map((d) => ({ label: d.day, inserted: d.inserted, updated: d.updated })),
      'day',
    ) +
    '<p><a href="/">Search</a></p>\n';
  return page('keystore statistics', body);
}
