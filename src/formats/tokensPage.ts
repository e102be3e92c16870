// GET /auth/tokens: where Singularity's interactive `remote login` sends a person ("Generate an access token at
// <server>/auth/tokens"). The page says how this site hands out tokens and how to register one. Pure; every value
// goes through escapeHtml().
import { escapeHtml } from './html.js';

export interface TokensPageOptions {
  /** The server's base URL as clients name it (PUBLIC_URL or from the request). */
  baseUrl: string;
  /** TOKENS_HELP_TEXT: the administrator's words; blank lines separate paragraphs. */
  helpText?: string | undefined;
  /** TOKENS_HELP_URL: where this site's users get a token. */
  helpUrl?: string | undefined;
  /** TOKEN_ISSUER when tokens of an identity provider are accepted (linked when it is a web address). */
  providerIssuer?: string | undefined;
}

export function renderTokensPage(opts: TokensPageOptions): string {
  const base = escapeHtml(opts.baseUrl);
  const where: string[] = [];
  if (opts.helpText) {
    for (const paragraph of opts.helpText.split(/\r?\n\s*\r?\n/)) {
      if (paragraph.trim() !== '') where.push(`<p>${escapeHtml(paragraph.trim())}</p>`);
    }
  }
  if (opts.helpUrl) where.push(`<p>Get your token here: ${linkIfWeb(opts.helpUrl)}</p>`);
  if (opts.providerIssuer) {
    where.push(
      `<p>This keyserver accepts the access tokens of this site's identity provider, ${linkIfWeb(opts.providerIssuer)}: ` +
        "get one from your site's portal.</p>",
    );
  }
  if (where.length === 0) where.push('<p>Access tokens are issued by the administrator of this keyserver: ask them for one.</p>');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Access tokens – ${base}</title>
</head>
<body>
<h1>Access tokens for ${base}</h1>
${where.join('\n')}
<h2>Using your token with Singularity or Apptainer</h2>
<p>Save the token in a file (one line), then register it:</p>
<pre>singularity remote add --no-login keystore ${base}
singularity remote login --tokenfile TOKEN_FILE keystore
singularity key push FINGERPRINT</pre>
<p>Or, with this server added as a keyserver only: <code>singularity keyserver login --password-stdin ${base} &lt; TOKEN_FILE</code>.</p>
<p>A key you push must carry your identity (your e-mail address or account name) between <code>&lt;</code> and
<code>&gt;</code> in one of its user IDs, for example <code>Your Name &lt;your-account&gt;</code>.</p>
</body>
</html>
`;
}

function link(url: string): string {
  const safe = escapeHtml(url);
  return `<a href="${safe}">${safe}</a>`;
}

function linkIfWeb(text: string): string {
  return /^https?:\/\//i.test(text) ? link(text) : `<code>${escapeHtml(text)}</code>`;
}
