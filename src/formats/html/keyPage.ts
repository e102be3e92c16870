// The page of one key at /keys/FINGERPRINT: its fingerprint to copy, facts, user IDs with their signatures,
// subkeys, downloads and fetch commands. Built only from facts derived at import. Pure module: no I/O.
import { serverAddress, fetchCommands } from './clientCommands.js';
import {
  algorithmLabel,
  capabilitiesText,
  commandBlock,
  copyButton,
  formatDate,
  groupFingerprint,
  keyHref,
  revocationText,
  signatureName,
  statusBadge,
  statusOf,
} from './components.js';
import { page, type SiteInfo } from './layout.js';
import { html, type Html } from './template.js';
import type { KeySummary, Revocation, SubkeyListing, UserIdSummary } from '../../vocabulary.js';

export type KeyPageSubkey = SubkeyListing;

export interface KeyPageSignature {
  type: number;
  issuerKeyId: string | null;
  created: number;
  self: boolean;
  /** The issuer's key when stored here. */
  issuer: { fingerprint: string; userId: string | null } | null;
}

export interface KeyPageData extends KeySummary, Pick<SubkeyListing, 'capabilities' | 'revocation'> {
  firstSeen: Date;
  lastChanged: Date;
  size: number;
  userAttributeCount: number;
  userIds: (UserIdSummary & { primary: boolean })[];
  userIdSignatures: KeyPageSignature[][];
  subkeys: KeyPageSubkey[];
}

function expiryFact(expires: number | null, now: number): Html {
  if (expires === null) return html`never`;
  return expires <= now ? html`${formatDate(expires)} ${statusBadge('expired')}` : html`${formatDate(expires)}`;
}

function statusFact(revoked: boolean, expires: number | null, revocation: Revocation | null, now: number): Html {
  const status = statusOf(revoked, expires, now);
  return revoked ? html`${statusBadge(status)} ${revocationText(revocation)}` : statusBadge(status);
}

// A user ID's signatures are shown unfolded when other keys signed it and they fit on a screen or so.
const OPEN_SIGNATURES = 25;

function signatureItem(sig: KeyPageSignature): Html {
  const keyId = sig.issuerKeyId ?? 'unknown issuer';
  const by = sig.self
    ? html`by this key`
    : sig.issuer
      ? html`by <a href="${keyHref(sig.issuer.fingerprint)}">${sig.issuer.userId ?? groupFingerprint(sig.issuer.fingerprint)}</a> <code>${keyId}</code>`
      : html`by <code>${keyId}</code> <span class="muted">(not stored here)</span>`;
  return html`<li>${signatureName(sig.type)} ${by}, ${formatDate(sig.created)}</li>\n`;
}

function userIdSection(uid: KeyPageData['userIds'][number], sigs: KeyPageSignature[], now: number): Html {
  const third = sigs.filter((s) => !s.self).length;
  return html`<div class="component">
<h3>${uid.text}</h3>
<p class="meta">${statusBadge(statusOf(uid.revoked, uid.expires, now))}${uid.primary ? ' primary user ID ·' : ''} created ${formatDate(uid.created)}${uid.expires !== null ? html` · expires ${formatDate(uid.expires)}` : ''}</p>
${
  sigs.length === 0
    ? ''
    : html`<details${third > 0 && sigs.length <= OPEN_SIGNATURES ? html` open` : ''}><summary>${sigs.length} signature${sigs.length === 1 ? '' : 's'}${third > 0 ? html`, ${third} by other keys` : ''}</summary>
<ul class="sigs">
${sigs.map(signatureItem)}</ul></details>`
}
</div>
`;
}

function subkeySection(sub: KeyPageSubkey, now: number): Html {
  return html`<div class="component">
<h3 class="fpr">${groupFingerprint(sub.fingerprint)}</h3>
<dl class="facts">
<dt>Algorithm</dt><dd>${algorithmLabel(sub.algorithm, sub.bits)}</dd>
<dt>Can</dt><dd class="caps">${capabilitiesText(sub.capabilities)}</dd>
<dt>Created</dt><dd>${formatDate(sub.created)}</dd>
<dt>Expires</dt><dd>${expiryFact(sub.expires, now)}</dd>
<dt>Status</dt><dd>${statusFact(sub.revoked, sub.expires, sub.revocation, now)}</dd>
</dl>
</div>
`;
}

/** The name a key goes by: its primary (or first valid) user ID. */
function displayName(key: KeyPageData): string {
  const uid = key.userIds.find((u) => u.primary && !u.revoked) ?? key.userIds.find((u) => !u.revoked) ?? key.userIds[0];
  return uid?.text ?? `Key ${key.keyId}`;
}

export function renderKeyDetailPage(key: KeyPageData, site: SiteInfo, now: number): string {
  const fpr = key.fingerprint.toUpperCase();
  const name = displayName(key);
  const commands = fetchCommands(serverAddress(site.baseUrl), fpr);
  const main = html`<h1>${name}</h1>
<div class="fingerprint-box"><p class="label" id="fpr-label">Fingerprint</p>
<code class="fpr fpr-big" id="fingerprint">${groupFingerprint(fpr)}</code>
${copyButton({ text: fpr, label: 'Copy the fingerprint' })}</div>
<dl class="facts">
<dt>Status</dt><dd>${statusFact(key.revoked, key.expires, key.revocation, now)}</dd>
<dt>Algorithm</dt><dd>${algorithmLabel(key.algorithm, key.bits)} (OpenPGP v${key.version})</dd>
<dt>Key ID</dt><dd><code>${key.keyId}</code></dd>
<dt>Can</dt><dd class="caps">${capabilitiesText(key.capabilities)}</dd>
<dt>Created</dt><dd>${formatDate(key.created)}</dd>
<dt>Expires</dt><dd>${expiryFact(key.expires, now)}</dd>
<dt>Here since</dt><dd>${key.firstSeen.toISOString().slice(0, 10)}, last changed ${key.lastChanged.toISOString().slice(0, 10)}</dd>
</dl>
<h2>Download</h2>
<p><a class="button" href="${`/keys/${fpr}.asc`}" download="${`${fpr}.asc`}">Armored (.asc)</a> <a class="button secondary" href="${`/keys/${fpr}.pgp`}" download="${`${fpr}.pgp`}">Binary (.pgp)</a> <span class="hint">${key.size} bytes</span></p>
<h2>Fetch it</h2>
${commandBlock('cmd-fetch', 'With SingularityCE, Apptainer, gpg or curl:', commands)}
<h2>User IDs (${key.userIds.length})</h2>
${key.userIds.length === 0 ? html`<p class="muted">This key has no user ID.</p>` : key.userIds.map((u, i) => userIdSection(u, key.userIdSignatures[i] ?? [], now))}
${key.userAttributeCount > 0 ? html`<p class="muted">And ${key.userAttributeCount} photo ID${key.userAttributeCount === 1 ? '' : 's'} (not shown).</p>` : ''}
<h2>Subkeys (${key.subkeys.length})</h2>
${key.subkeys.length === 0 ? html`<p class="muted">No subkeys.</p>` : key.subkeys.map((s) => subkeySection(s, now))}`;
  return page({ site, title: name, section: 'browse', script: true, main });
}
