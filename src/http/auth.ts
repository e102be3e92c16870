// Access tokens on requests: reading the Authorization header as Singularity, Apptainer and curl send it,
// and the middleware that makes pushes (PUSH_POLICY=token) or lookups (LOOKUP_POLICY=token) require one.
import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';
import type { TokensPageOptions } from '../formats/tokensPage.js';
import type { AccessPolicy, AccessService, AuthenticatedToken } from '../services/accessService.js';

export interface AccessSettings {
  tokens: AccessService;
  pushPolicy: AccessPolicy;
  lookupPolicy: AccessPolicy;
  /** The server's external base URL (PUBLIC_URL) for Singularity's remote configuration; unset = from the request. */
  publicUrl: string | undefined;
  /** What GET /auth/tokens tells a person about getting a token (TOKENS_HELP_TEXT, TOKENS_HELP_URL, TOKEN_ISSUER). */
  tokensHelp?: Omit<TokensPageOptions, 'baseUrl'> | undefined;
}

/** What an Authorization header holds: nothing usable as a credential, a token secret, or something unreadable. */
export type Credential = { kind: 'none' } | { kind: 'secret'; secret: string } | { kind: 'malformed' };

const NONE: Credential = { kind: 'none' };
const MALFORMED: Credential = { kind: 'malformed' };

/**
 * `Bearer TOKEN` (scheme in any case: old Singularity clients send BEARER); a bare `Bearer` is anonymous.
 * `Basic base64(user:password)`: the password is the token, or the user name when the password is empty
 * (Go sends `https://TOKEN@host` as `Basic base64("TOKEN:")`).
 */
export function readCredential(header: string | undefined): Credential {
  const value = (header ?? '').trim();
  if (value === '') return NONE;
  const [scheme = '', ...rest] = value.split(/\s+/);
  const parameter = rest.join(' ');
  switch (scheme.toLowerCase()) {
    case 'bearer':
      return parameter === '' ? NONE : { kind: 'secret', secret: parameter };
    case 'basic': {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(parameter)) return MALFORMED;
      const decoded = Buffer.from(parameter, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return MALFORMED;
      const user = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const secret = password !== '' ? password : user;
      return secret === '' ? NONE : { kind: 'secret', secret };
    }
    default:
      return MALFORMED;
  }
}

/** The valid token the request carried, set by the middleware below; null when anonymous. */
export function tokenOf(ctx: Context): AuthenticatedToken | null {
  return (ctx.state['token'] as AuthenticatedToken | undefined) ?? null;
}

type Verdict = { token: AuthenticatedToken; problem: null } | { token: null; problem: string; given: boolean };

/** Checks the request's credential; a valid token is kept in ctx.state for tokenOf. */
async function check(ctx: Context, tokens: AccessService): Promise<Verdict> {
  const credential = readCredential(ctx.get('authorization') || undefined);
  if (credential.kind === 'none') return { token: null, problem: 'no token was given', given: false };
  if (credential.kind === 'malformed') {
    return { token: null, problem: 'the Authorization header is neither "Bearer TOKEN" nor "Basic" with the token as user name', given: true };
  }
  const authentication = await tokens.authenticate(credential.secret);
  if ('problem' in authentication) return { token: null, problem: authentication.problem, given: true };
  ctx.state['token'] = authentication.token;
  return { token: authentication.token, problem: null };
}

function unauthorized(ctx: Context, message: string): AppError {
  ctx.set('WWW-Authenticate', 'Bearer realm="keystore"');
  return new AppError(401, 'unauthorized', message);
}

function requireToken(tokens: AccessService, action: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const verdict = await check(ctx, tokens);
    if (verdict.problem !== null) {
      throw unauthorized(ctx, `a valid access token is required to ${action}: ${verdict.problem} (ask the keyserver's administrator for one)`);
    }
    await next();
  };
}

/** POST /pks/add: PUSH_POLICY=token needs a valid token; when open, a valid token is noted (for the audit log). */
export function pushAccess(settings: AccessSettings) {
  if (settings.pushPolicy === 'token') return requireToken(settings.tokens, 'push keys');
  return async (ctx: Context, next: Next): Promise<void> => {
    if (readCredential(ctx.get('authorization') || undefined).kind === 'secret') await check(ctx, settings.tokens);
    await next();
  };
}

/** GET /pks/lookup: LOOKUP_POLICY=token needs a valid token; when open, credentials are not even read. */
export function lookupAccess(settings: AccessSettings) {
  if (settings.lookupPolicy === 'token') return requireToken(settings.tokens, 'look up keys');
  return (_ctx: Context, next: Next): Promise<void> => next();
}

/** Singularity's `keyserver login` handshake on GET /: no credential or a valid one passes, an invalid one gets 401. */
export function loginCheck(settings: AccessSettings) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const verdict = await check(ctx, settings.tokens);
    if (verdict.problem !== null && verdict.given) throw unauthorized(ctx, `access token refused: ${verdict.problem}`);
    await next();
  };
}

/** Singularity's `remote login` check (GET /v1/token-status): the token's owner, or why it is not valid. */
export async function checkToken(ctx: Context, tokens: AccessService): Promise<{ token: AuthenticatedToken } | { problem: string }> {
  const verdict = await check(ctx, tokens);
  return verdict.problem === null ? { token: verdict.token } : { problem: verdict.problem };
}
