// Web Key Directory (draft-koch-openpgp-webkey-service) for the domains in WKD_DOMAINS: the direct form on the
// domain's own host and the advanced form on openpgpkey.<domain>, their policy files, and 404 for anything else.
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../../errors.js';
import { plainTextErrors } from '../plainErrors.js';
import { isWkdHash, wkdHashOfLocalPart } from '../../formats/wkdHash.js';
import type { CertService } from '../../services/certService.js';

export interface WkdDependencies {
  certs: CertService;
  /** Lower-case domain names served (WKD_DOMAINS). */
  domains: ReadonlySet<string>;
  lookupAccess: (ctx: Context, next: Next) => Promise<void>;
}

const BASE = '/.well-known/openpgpkey';

export function registerWkd(router: Router, deps: WkdDependencies): void {
  const { certs, domains, lookupAccess } = deps;
  /** The domain a request is for, by form; null when it is not one served, or not asked on its host. */
  const directDomain = (ctx: Context) => (domains.has(ctx.hostname.toLowerCase()) ? ctx.hostname.toLowerCase() : null);
  const advancedDomain = (ctx: Context) => {
    const domain = param(ctx, 'domain').toLowerCase();
    return domains.has(domain) && ctx.hostname.toLowerCase() === `openpgpkey.${domain}` ? domain : null;
  };
  const key = (domainOf: (ctx: Context) => string | null) => async (ctx: Context) => {
    const domain = domainOf(ctx);
    if (domain === null) throw notServed();
    const hash = param(ctx, 'hash');
    const localPart = single(ctx.query['l']);
    // Only the hash matters; a local part that does not hash to it names no address here.
    if (!isWkdHash(hash) || (localPart !== undefined && (localPart.length > 254 || wkdHashOfLocalPart(localPart) !== hash))) throw notServed();
    const bytes = await certs.wkdKey(hash, domain, localPart);
    ctx.state['keys'] = 1;
    ctx.type = 'application/octet-stream';
    ctx.body = Buffer.from(bytes);
  };
  const policy = (domainOf: (ctx: Context) => string | null) => (ctx: Context) => {
    if (domainOf(ctx) === null) throw notServed();
    // An empty policy file: "this domain has a Web Key Directory" (without one gpg may remember that it has none).
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = '';
  };
  router.get(`${BASE}/hu/:hash`, plainTextErrors, lookupAccess, key(directDomain));
  router.get(`${BASE}/policy`, plainTextErrors, policy(directDomain));
  router.get(`${BASE}/:domain/hu/:hash`, plainTextErrors, lookupAccess, key(advancedDomain));
  router.get(`${BASE}/:domain/policy`, plainTextErrors, policy(advancedDomain));
}

function param(ctx: Context, name: string): string {
  return String((ctx.params as Record<string, string | undefined>)[name] ?? '');
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function notServed(): AppError {
  return new AppError(404, 'not_found', 'no key for this address');
}
