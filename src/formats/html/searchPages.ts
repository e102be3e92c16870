// Pages of the HKP lookup for browsers: op=index/vindex results and op=get's armored key.
//
// v6 keys: the HTML index leaves them out, like the machine-readable index. They are found through /pks/lookup,
// which never serves v6 keys (gpg 2.2 cannot read them), so the "get" link of a v6 key would lead nowhere.
// Pure module: no I/O.
import type { IndexKey, IndexSignature, IndexSubkey } from '../machineReadableIndex.js';
import {
  algorithmLabel,
  expiryText,
  formatDate,
  groupFingerprint,
  keyHref,
  keySummary,
  signatureLabel,
  statusBadge,
  statusOf,
} from './components.js';
import { searchForm } from './frontPage.js';
import { DEFAULT_SITE, page, type SiteInfo } from './layout.js';
import { href, html, join, type Html } from './template.js';

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
  site?: SiteInfo;
}

function signatureList(sigs: IndexSignature[] | undefined, ownKeyId: string): Html | '' {
  if (sigs === undefined || sigs.length === 0) return '';
  const own = ownKeyId.toUpperCase();
  const items = sigs.map((sig) => {
    const issuer = sig.issuerKeyId === null ? 'unknown issuer' : sig.issuerKeyId.toUpperCase();
    const who = sig.issuerKeyId !== null && issuer === own ? ' [self]' : sig.issuerUserId !== null ? html` ${sig.issuerUserId}` : '';
    return html`<li><code>${signatureLabel(sig.type)}</code> <code>${issuer}</code> ${formatDate(sig.created)}${who}</li>`;
  });
  return html`<ul class="sigs">\n${join(items, '\n')}\n</ul>`;
}

function findSignatures(map: Map<string, KeySignatures> | undefined, fingerprint: string): KeySignatures | undefined {
  if (map === undefined) return undefined;
  return map.get(fingerprint) ?? map.get(fingerprint.toUpperCase()) ?? map.get(fingerprint.toLowerCase());
}

function subkeyItem(sub: IndexSubkey, sigs: IndexSignature[] | undefined, primaryKeyId: string, now: number): Html {
  return html`<li>sub <span class="fpr">${groupFingerprint(sub.fingerprint)}</span> ${algorithmLabel(sub.algorithm, sub.bits)}, created ${formatDate(sub.created)}, expires ${expiryText(sub.expires)}, ${statusBadge(statusOf(sub.revoked, sub.expires, now))}${signatureList(sigs, primaryKeyId)}</li>`;
}

function indexEntry(key: IndexKey, verbose: boolean, sigs: KeySignatures | undefined, now: number): Html {
  const fpr = key.fingerprint.toUpperCase();
  const links = html`<a href="${href('/pks/lookup', [
    ['op', 'get'],
    ['search', `0x${fpr}`],
  ])}">get key</a> · <a href="${href('/pks/lookup', [
    ['op', 'vindex'],
    ['fingerprint', 'on'],
    ['search', `0x${fpr}`],
  ])}">signatures</a> · <a href="${keyHref(fpr)}">key page</a>`;
  const subkeys =
    verbose && key.subkeys !== undefined && key.subkeys.length > 0
      ? html`<ul class="uids">\n${join(
          key.subkeys.map((sub, i) => subkeyItem(sub, sigs?.subkeys[i], key.keyId, now)),
          '\n',
        )}\n</ul>\n`
      : '';
  return keySummary(key, {
    now,
    links,
    extra: subkeys,
    afterUserId: verbose ? (i) => signatureList(sigs?.userIds[i], key.keyId) : undefined,
  });
}

/** Result page of op=index (verbose = false) or op=vindex (verbose = true) for browsers. */
export function renderIndexPage(opts: IndexPageOptions): string {
  // v4 only: see the comment at the top of this file.
  const keys = opts.keys.filter((k) => k.version === 4);
  const main = html`<h1>Search results for “${opts.search}”</h1>
${searchForm(opts.search)}
${
  keys.length === 0
    ? html`<p>No keys found for “${opts.search}”.</p>\n`
    : html`<p>${keys.length} key${keys.length === 1 ? '' : 's'} found.</p>\n${keys.map((key) => indexEntry(key, opts.verbose, findSignatures(opts.signatures, key.fingerprint), opts.now))}`
}
<p><a href="/">New search</a></p>`;
  return page({ site: opts.site ?? DEFAULT_SITE, title: `${opts.verbose ? 'vindex' : 'index'} “${opts.search}”`, section: 'search', main });
}

/** op=get for a browser: the armored key in a <pre>, plus a download link. */
export function renderKeyPage(opts: { fingerprint: string; armored: string; site?: SiteInfo }): string {
  const fpr = opts.fingerprint.toUpperCase();
  const download = href('/pks/lookup', [
    ['op', 'get'],
    ['options', 'mr'],
    ['search', `0x${fpr}`],
  ]);
  const main = html`<h1>Key <span class="fpr">${groupFingerprint(fpr)}</span></h1>
<p><a href="${download}" download="${`0x${fpr}.asc`}">Download</a> · <a href="${keyHref(fpr)}">Key page</a> · <a href="/">New search</a></p>
<pre>${opts.armored}</pre>`;
  return page({ site: opts.site ?? DEFAULT_SITE, title: `key 0x${fpr}`, section: 'search', main });
}
