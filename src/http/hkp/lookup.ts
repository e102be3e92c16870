// GET /pks/lookup: parse the parameters, ask the lookup service, format for the client.
import type { Context } from 'koa';
import { encodeArmor } from '../../formats/armor.js';
import { renderIndexPage, renderKeyPage, renderStatsPage, type SiteInfo } from '../../formats/html.js';
import { formatMachineReadableIndex } from '../../formats/machineReadableIndex.js';
import { AppError } from '../../errors.js';
import type { DirectoryService } from '../../services/directoryService.js';
import type { KeyLookups } from '../../services/lookupService.js';
import { parseSearch } from '../../services/search.js';
import { parseLookup, wantsJson, type LookupParams } from '../params.js';
import { statsPageData } from '../web.js';
import { firstExpiry, queryTags, type CachedAnswer, type CachedRequest, type LookupCache } from './lookupCache.js';

/** What the pages for browsers need: the site's name and address, and the statistics with the per-day chart. */
export interface LookupPages {
  directory: Pick<DirectoryService, 'statistics'>;
  site: (ctx: Context) => SiteInfo;
}

export function lookupHandler(lookups: KeyLookups, cache: LookupCache, pages: LookupPages) {
  return async (ctx: Context): Promise<void> => {
    const params = parseLookup(ctx.query);
    switch (params.op) {
      case 'get':
        return get(ctx, lookups, params, cache, pages);
      case 'index':
      case 'vindex':
        return index(ctx, lookups, params, params.op === 'vindex', cache, pages);
      case 'stats':
        return stats(ctx, lookups, params, pages);
      default:
        throw new AppError(501, 'unsupported_op', `op=${params.op} is not supported (use get, index, vindex or stats)`);
    }
  };
}

/** A page for people only when a browser asks (Accept: text/html) and mr was not asked for. */
function wantsHtml(ctx: Context, params: LookupParams): boolean {
  return !params.mr && (ctx.get('accept') || '').toLowerCase().includes('text/html');
}

function searchOf(ctx: Context, params: LookupParams) {
  if (!params.search) throw new AppError(400, 'invalid_search', 'missing search parameter');
  const query = parseSearch(params.search, params.exact);
  ctx.state['search'] = query.kind;
  return query;
}

async function get(ctx: Context, lookups: KeyLookups, params: LookupParams, cache: LookupCache, pages: LookupPages): Promise<void> {
  const query = searchOf(ctx, params);
  if (wantsHtml(ctx, params)) {
    const found = await lookups.get(query);
    ctx.state['keys'] = found.length;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderKeyPage({
      fingerprint: found[0]!.fingerprint,
      armored: encodeArmor(Buffer.concat(found.map((k) => k.packets))),
      site: pages.site(ctx),
    });
    return;
  }
  send(
    ctx,
    await cache.answer(
      `get ${JSON.stringify(query)}`,
      queryTags(query),
      async () => {
        const found = await lookups.get(query);
        return { type: 'application/pgp-keys', body: Buffer.from(encodeArmor(Buffer.concat(found.map((k) => k.packets)))), keys: found.length };
      },
      { url: ctx.url, request: cachedRequest(query.kind) },
    ),
  );
}

async function index(
  ctx: Context,
  lookups: KeyLookups,
  params: LookupParams,
  verbose: boolean,
  cache: LookupCache,
  pages: LookupPages,
): Promise<void> {
  const query = searchOf(ctx, params);
  const page = { pageSize: params.pageSize, pageToken: params.pageToken };
  if (!wantsHtml(ctx, params)) {
    // vindex for machines is the same listing as index.
    const key = `index ${JSON.stringify(query)} ${page.pageSize ?? ''} ${page.pageToken ?? ''}`;
    send(
      ctx,
      await cache.answer(
        key,
        queryTags(query),
        async () => {
          const result = await lookups.index(query, page, false);
          const now = Math.floor(Date.now() / 1000);
          const headers: Record<string, string> = { 'X-HKP-Results-Count': String(result.total) };
          if (result.nextPageToken) headers['X-HKP-Next-Page-Token'] = result.nextPageToken;
          const validUntil = firstExpiry(result.keys, now);
          return {
            type: 'text/plain; charset=utf-8',
            body: Buffer.from(formatMachineReadableIndex(result.keys, now)),
            keys: result.keys.length,
            headers,
            ...(validUntil !== undefined ? { validUntil } : {}),
          };
        },
        { url: ctx.url, request: cachedRequest(query.kind) },
      ),
    );
    return;
  }
  const result = await lookups.index(query, page, verbose);
  ctx.state['keys'] = result.keys.length;
  ctx.set('X-HKP-Results-Count', String(result.total));
  if (result.nextPageToken) ctx.set('X-HKP-Next-Page-Token', result.nextPageToken);
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = renderIndexPage({
    search: params.search ?? '',
    keys: result.keys,
    verbose,
    now: Math.floor(Date.now() / 1000),
    ...(result.signatures ? { signatures: result.signatures } : {}),
    site: pages.site(ctx),
  });
}

/** What cachedLookup.ts needs, beyond the URL, to answer this request's URL again the way this app does. */
function cachedRequest(search: string): CachedRequest {
  return { search };
}

function send(ctx: Context, answer: CachedAnswer): void {
  ctx.state['keys'] = answer.keys;
  for (const [name, value] of Object.entries(answer.headers ?? {})) ctx.set(name, value);
  ctx.type = answer.type;
  ctx.body = answer.body;
}

async function stats(ctx: Context, lookups: KeyLookups, params: LookupParams, pages: LookupPages): Promise<void> {
  // JSON for machines and curl; the page (the one at /stats) only for a browser that did not ask for mr or JSON.
  if (!wantsHtml(ctx, params) || wantsJson(ctx)) {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(await lookups.stats());
    return;
  }
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = renderStatsPage(statsPageData(await pages.directory.statistics()), pages.site(ctx));
}
