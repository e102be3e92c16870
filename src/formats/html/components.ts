// Pieces shared by the pages: dates, fingerprints, statuses, capabilities, copy buttons, command blocks and the
// short summary of a key (listing and search results). Pure module: no I/O.
import { algorithmName } from '../machineReadableIndex.js';
import { html, type Html, type HtmlValue } from './template.js';

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

export type Status = 'revoked' | 'expired' | 'valid';

export function statusOf(revoked: boolean, expires: number | null, now: number): Status {
  if (revoked) return 'revoked';
  if (expires !== null && expires <= now) return 'expired';
  return 'valid';
}

export function statusBadge(s: Status): Html {
  return html`<span class="status ${s}">${s}</span>`;
}

export function expiryText(expires: number | null): string {
  return expires === null ? 'never' : formatDate(expires);
}

/** "RSA 4096", "EdDSA 255". */
export function algorithmLabel(algorithm: number, bits: number): string {
  return `${algorithmName(algorithm)} ${bits}`;
}

const CAPABILITY_NAMES: Readonly<Record<string, string>> = { c: 'certify', s: 'sign', e: 'encrypt', a: 'authenticate' };

/** "certify, sign"; "not recorded" for rows written before capabilities were derived; "none" for none. */
export function capabilitiesText(capabilities: string | null): string {
  if (capabilities === null) return 'not recorded';
  const names = [...capabilities].map((c) => CAPABILITY_NAMES[c]).filter((n): n is string => n !== undefined);
  return names.length === 0 ? 'none' : names.join(', ');
}

// RFC 9580 §5.2.3.31.
const REVOCATION_CODES: Readonly<Record<number, string>> = {
  0: 'no reason given',
  1: 'key superseded',
  2: 'key compromised',
  3: 'key retired',
  32: 'user ID no longer valid',
};

export function revocationText(revocation: { code: number; text: string } | null): string {
  if (revocation === null) return 'no reason given';
  const code = REVOCATION_CODES[revocation.code] ?? `reason ${revocation.code}`;
  return revocation.text.trim() === '' ? code : `${code}: “${revocation.text.trim()}”`;
}

/** Short label of a signature type: "rev" for revocations, otherwise "sig 0xNN". */
export function signatureLabel(type: number): string {
  if (type === 0x20 || type === 0x28 || type === 0x30) return 'rev';
  return `sig 0x${type.toString(16).toUpperCase().padStart(2, '0')}`;
}

const SIGNATURE_NAMES: Readonly<Record<number, string>> = {
  0x10: 'certification',
  0x11: 'persona certification',
  0x12: 'casual certification',
  0x13: 'positive certification',
  0x18: 'subkey binding',
  0x19: 'primary key binding',
  0x1f: 'direct key signature',
  0x20: 'key revocation',
  0x28: 'subkey revocation',
  0x30: 'certification revocation',
};

export function signatureName(type: number): string {
  return SIGNATURE_NAMES[type] ?? `signature type 0x${type.toString(16).padStart(2, '0')}`;
}

/** A button copying `text` (or the text of the element with id `from`); hidden until the script shows it. */
export function copyButton(opts: { text?: string; from?: string; label: string }): Html {
  const source = opts.from !== undefined ? html` data-copy-from="${opts.from}"` : html` data-copy="${opts.text ?? ''}"`;
  return html`<button type="button" class="small secondary copy"${source} aria-label="${opts.label}" hidden>Copy</button>`;
}

/** A block of shell commands with a copy button. `id` must be unique on the page. */
export function commandBlock(id: string, label: string, lines: string[]): Html {
  return html`<div class="command"><p class="hint">${label} ${copyButton({ from: id, label: `Copy: ${label}` })}</p><pre id="${id}">${lines.join('\n')}</pre></div>`;
}

export function keyHref(fingerprint: string): string {
  return `/keys/${fingerprint.toUpperCase()}`;
}

export interface SummaryKey {
  fingerprint: string;
  algorithm: number;
  bits: number;
  created: number;
  expires: number | null;
  revoked: boolean;
  userIds: { text: string; revoked: boolean; expires: number | null }[];
}

export interface SummaryOptions {
  now: number;
  /** Shown after the facts line (e.g. the HKP get and vindex links). */
  links?: HtmlValue;
  /** At most this many user IDs, then "and N more" (all when absent). */
  maxUserIds?: number;
  /** Under each user ID (vindex: its signatures). */
  afterUserId?: (index: number) => HtmlValue;
  /** After the user IDs (vindex: the subkeys). */
  extra?: HtmlValue;
  /** A line above the facts (the listing: when the key was added). */
  note?: HtmlValue;
}

/** The short summary of one key: linked fingerprint, algorithm, dates, status, user IDs. */
export function keySummary(key: SummaryKey, opts: SummaryOptions): Html {
  const shown = opts.maxUserIds === undefined ? key.userIds : key.userIds.slice(0, opts.maxUserIds);
  const more = key.userIds.length - shown.length;
  const uids = shown.map(
    (uid, i) =>
      html`<li>uid <strong>${uid.text}</strong> ${statusBadge(statusOf(uid.revoked, uid.expires, opts.now))}${opts.afterUserId?.(i)}</li>\n`,
  );
  return html`<article class="key">
<p>pub <a class="fpr" href="${keyHref(key.fingerprint)}">${groupFingerprint(key.fingerprint)}</a><br>
${algorithmLabel(key.algorithm, key.bits)}, created ${formatDate(key.created)}, expires ${expiryText(key.expires)}, ${statusBadge(statusOf(key.revoked, key.expires, opts.now))}${opts.note ? html`<br>\n${opts.note}` : ''}${opts.links ? html`<br>\n${opts.links}` : ''}</p>
${key.userIds.length === 0 ? html`<p class="muted">No user ID.</p>` : html`<ul class="uids">\n${uids}${more > 0 ? html`<li class="muted">and ${more} more user ID${more === 1 ? '' : 's'}</li>\n` : ''}</ul>`}
${opts.extra ?? ''}</article>
`;
}
