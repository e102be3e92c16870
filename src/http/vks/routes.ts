// VKS v1 as keys.openpgp.org (Hagrid) serves it: one armored key by fingerprint, key ID (primary or subkey) or
// address, with Hagrid's short plain-text errors; upload and request-verify with JSON (see VksService).
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { encodeArmor } from '../../formats/armor.js';
import { formatVksError, formatVksStatus } from '../../formats/vks.js';
import { MODERN_VERSIONS, type CertService } from '../../services/certService.js';
import type { FoundKey } from '../../vocabulary.js';
import type { VksService } from '../../services/vksService.js';
import { pushAccess, tokenOf, type AccessSettings } from '../auth.js';
import { readBody } from '../body.js';
import { errorsAnsweredAs, plainTextErrors } from '../plainErrors.js';

export interface VksDependencies {
  certs: Pick<CertService, 'certs' | 'keyForEmail'>;
  vks: Pick<VksService, 'upload' | 'requestVerify'>;
  access: AccessSettings;
  maxBodyBytes: number;
  lookupAccess: (ctx: Context, next: Next) => Promise<void>;
}

const REQUEST_VERIFY_NOTE =
  'keystore sends no verification e-mail: with PUSH_POLICY=open every address is published at upload; ' +
  'with PUSH_POLICY=token an address is published by a push (or this request) carrying an access token of that address';

export function registerVks(router: Router, deps: VksDependencies): void {
  const { certs, vks, lookupAccess } = deps;
  router.get('/vks/v1/by-fingerprint/:fingerprint', plainTextErrors, lookupAccess, async (ctx) => {
    const fingerprint = upperHex(param(ctx, 'fingerprint'), [40, 64], 'fingerprint');
    sendArmored(ctx, await certs.certs({ kind: 'fingerprint', fingerprint }, MODERN_VERSIONS));
  });
  router.get('/vks/v1/by-keyid/:keyId', plainTextErrors, lookupAccess, async (ctx) => {
    const keyId = upperHex(param(ctx, 'keyId'), [16], 'key ID');
    sendArmored(ctx, await certs.certs({ kind: 'longId', keyId }, MODERN_VERSIONS));
  });
  router.get('/vks/v1/by-email/:email', plainTextErrors, lookupAccess, async (ctx) => {
    const email = param(ctx, 'email').trim();
    if (!/^[^\s<>@]+@[^\s<>@]+$/.test(email) || email.length > 254) throw new AppError(400, 'bad_request', 'Malformed e-mail address');
    sendArmored(ctx, [await certs.keyForEmail(email)]);
  });
  router.post('/vks/v1/upload', jsonErrors, pushAccess(deps.access), async (ctx) => {
    const { keytext } = await jsonBody(ctx, deps.maxBodyBytes, uploadSchema);
    const status = await vks.upload(keyData(keytext), { remoteAddress: ctx.ip, accessToken: tokenOf(ctx) });
    ctx.state['keys'] = 1;
    ctx.type = 'application/json';
    ctx.body = formatVksStatus(status);
  });
  router.post('/vks/v1/request-verify', jsonErrors, pushAccess(deps.access), async (ctx) => {
    const { token, addresses } = await jsonBody(ctx, deps.maxBodyBytes, requestVerifySchema);
    const status = await vks.requestVerify(token, addresses, { remoteAddress: ctx.ip, accessToken: tokenOf(ctx) });
    ctx.type = 'application/json';
    ctx.body = formatVksStatus(status, REQUEST_VERIFY_NOTE);
  });
}

const uploadSchema = z.object({ keytext: z.string().min(1) });
const requestVerifySchema = z.object({ token: z.string().min(1).max(200), addresses: z.array(z.string().max(254)).max(100).default([]) });

function param(ctx: Context, name: string): string {
  return String((ctx.params as Record<string, string | undefined>)[name] ?? '');
}

/** Upper-case hex of one of these lengths, no 0x (Hagrid refuses anything else with 400). */
function upperHex(value: string, lengths: number[], what: string): string {
  if (!/^[0-9A-F]+$/.test(value) || !lengths.includes(value.length)) {
    throw new AppError(400, 'bad_request', `Invalid ${what}: ${lengths.join(' or ')} upper-case hex digits without 0x`);
  }
  return value;
}

/** One armored key (the first: an address or ID names one key on VKS). */
function sendArmored(ctx: Context, found: FoundKey[]): void {
  ctx.state['keys'] = 1;
  ctx.type = 'application/pgp-keys';
  ctx.body = encodeArmor(found[0]!.packets);
}

/** The keytext field: armored text as is, or base64 of binary packets (Hagrid takes both). */
function keyData(keytext: string): string | Uint8Array {
  if (keytext.includes('-----BEGIN PGP')) return keytext;
  const compact = keytext.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new AppError(400, 'bad_request', 'keytext is neither armored nor base64');
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

async function jsonBody<T extends z.ZodType>(ctx: Context, limit: number, schema: T): Promise<z.infer<T>> {
  const type = (ctx.get('content-type') || '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new AppError(415, 'unsupported_media_type', 'send application/json');
  const text = (await readBody(ctx, limit)).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError(400, 'bad_request', 'the body is not JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError(400, 'bad_request', `invalid ${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return parsed.data as z.infer<T>;
}

/** Hagrid's upload and request-verify answer errors as `{"error": "..."}`. */
const jsonErrors = errorsAnsweredAs('application/json', formatVksError);
