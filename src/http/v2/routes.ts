// HKP v2 (draft-ietf-openpgp-hkp-01, as Hockeypuck serves it; the one-segment draft-gallagher-10 form too):
// certificates by versioned fingerprint, v4 key ID or identity as binary packets, the index as JSON, the prefix
// log, and pushes. v6 keys are served here. CORS (every /pks/ answer) and OPTIONS are the app's (app.ts).
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../../errors.js';
import { formatPrefixLog, formatV2Index, formatV2PushSummary } from '../../formats/hkpV2.js';
import type { AccessPolicy } from '../../services/accessService.js';
import { KEY_ID_VERSIONS, type CertService } from '../../services/certService.js';
import type { FoundKey } from '../../vocabulary.js';
import type { KeyService } from '../../services/keyService.js';
import { pushAccess, tokenOf, type AccessSettings } from '../auth.js';
import { extractKeyText, readBody } from '../body.js';
import { identityQuery, indexQuery, parseDay, parseKeyId, parseVersionedFingerprint } from './params.js';

export interface HkpV2Dependencies {
  certs: CertService;
  keys: KeyService;
  access: AccessSettings;
  maxBodyBytes: number;
  /** Runs before every lookup (LOOKUP_POLICY). */
  lookupAccess: (ctx: Context, next: Next) => Promise<void>;
}

export function registerHkpV2(router: Router, deps: HkpV2Dependencies): void {
  const { certs, lookupAccess } = deps;
  router.get('/pks/v2/certs/by-vfingerprint/:version/:fingerprint', lookupAccess, async (ctx) => {
    const fingerprint = parseVersionedFingerprint(param(ctx, 'version'), param(ctx, 'fingerprint'));
    sendCerts(ctx, await certs.certs({ kind: 'fingerprint', fingerprint }));
  });
  router.get('/pks/v2/certs/by-vfingerprint/:versioned', lookupAccess, async (ctx) => {
    const versioned = param(ctx, 'versioned');
    const fingerprint = parseVersionedFingerprint(versioned.slice(0, 2), versioned.slice(2));
    sendCerts(ctx, await certs.certs({ kind: 'fingerprint', fingerprint }));
  });
  router.get('/pks/v2/certs/by-keyid/:keyId', lookupAccess, async (ctx) => {
    sendCerts(ctx, await certs.certs({ kind: 'longId', keyId: parseKeyId(param(ctx, 'keyId')) }, KEY_ID_VERSIONS));
  });
  router.get('/pks/v2/certs/by-identity/:identity', lookupAccess, async (ctx) => {
    const query = identityQuery(param(ctx, 'identity'));
    ctx.state['search'] = query.kind;
    sendCerts(ctx, await certs.certs(query));
  });
  router.get('/pks/v2/index/:identity', lookupAccess, async (ctx) => {
    const query = indexQuery(param(ctx, 'identity'));
    ctx.state['search'] = query.kind;
    const keys = await certs.index(query);
    ctx.state['keys'] = keys.length;
    ctx.type = 'application/json';
    ctx.body = formatV2Index(keys);
  });
  router.get('/pks/v2/prefixlog/:day', lookupAccess, async (ctx) => {
    const prefixes = await certs.changedPrefixes(parseDay(param(ctx, 'day')));
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = formatPrefixLog(prefixes);
  });
  router.post('/pks/v2/certs', pushAccess(deps.access), pushHandler(deps.keys, deps.maxBodyBytes, deps.access.pushPolicy));
}

function param(ctx: Context, name: string): string {
  return String((ctx.params as Record<string, string | undefined>)[name] ?? '');
}

/** Binary packets of every key found, with the media type the client asked for (gallagher-10: pgp-keys;armor=no). */
function sendCerts(ctx: Context, found: FoundKey[]): void {
  ctx.state['keys'] = found.length;
  const accept = (ctx.get('accept') || '')
    .toLowerCase()
    .split(',')
    .map((t) => t.split(';')[0]!.trim());
  ctx.type = accept.includes('application/pgp-keys') && !accept.includes('application/pgp') ? 'application/pgp-keys; armor=no' : 'application/pgp';
  ctx.set('Content-Disposition', `attachment; filename="${found[0]!.fingerprint.toLowerCase()}.pgp"`);
  ctx.body = Buffer.concat(found.map((k) => k.packets));
}

/** POST /pks/v2/certs: as /pks/add (limits, push policy, audit), answered with the draft's JSON summary. */
function pushHandler(keys: KeyService, maxBodyBytes: number, pushPolicy: AccessPolicy) {
  return async (ctx: Context): Promise<void> => {
    const body = await readBody(ctx, maxBodyBytes);
    const keytext = await extractKeyText(ctx, body);
    ctx.type = 'application/json';
    try {
      const outcome = await keys.submit(keytext, { source: 'http', remoteAddress: ctx.ip, token: tokenOf(ctx), pushPolicy });
      ctx.state['keys'] = outcome.inserted.length + outcome.updated.length + outcome.unchanged.length;
      ctx.body = formatV2PushSummary(outcome);
    } catch (e) {
      // Nothing usable (422) or nothing the token may push (403): the summary lists each key as invalid.
      const rejected = e instanceof AppError ? (e.details?.['rejected'] as { fingerprint?: string; reason: string }[] | undefined) : undefined;
      if (!(e instanceof AppError) || !rejected) throw e;
      ctx.status = e.status;
      ctx.body = formatV2PushSummary({ inserted: [], updated: [], unchanged: [], rejected, dropped: [] }, { code: e.status, message: e.message });
    }
  };
}
