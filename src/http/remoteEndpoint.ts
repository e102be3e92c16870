// What `singularity remote add NAME HOST` and `remote login` read: the remote's configuration document, which
// names this server as the remote's keystore and token service, the token check of the token service, and the
// page interactive `remote login` sends people to for a token (/auth/tokens).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../errors.js';
import { renderTokensPage } from '../formats/tokensPage.js';
import { isEmailIdentity } from '../openpgp/index.js';
import { checkToken, type AccessSettings } from './auth.js';

/**
 * The document SingularityCE/Apptainer fetch from https://HOST/assets/config/config.prod.json
 * (internal/pkg/remote/endpoint GetAllServices): an object of services, each `{ "uri": BASE }`, named
 * `<service>API`. Every top-level value must be an object (the client decodes map[string]map[string]any).
 * Only the services this server provides are named, so `library://` and remote builds fail clearly.
 */
export function remoteConfigDocument(baseUrl: string) {
  return {
    keystoreAPI: { uri: baseUrl },
    tokenAPI: { uri: baseUrl },
  };
}

export function registerRemoteEndpoint(router: Router, settings: AccessSettings): void {
  router.get('/assets/config/config.prod.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(remoteConfigDocument(baseUrlOf(ctx, settings)));
  });
  // The client treats any status but 200 as a failure and names only 404 ("Invalid Credentials").
  router.get('/v1/token-status', async (ctx) => {
    const result = await checkToken(ctx, settings.tokens);
    if ('problem' in result) throw new AppError(404, 'invalid_token', `access token not valid: ${result.problem}`);
    const { id, identity, source } = result.token;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({
      data: { status: 'valid', source, ...(id !== null ? { tokenId: id } : {}), identity, ...(isEmailIdentity(identity) ? { email: identity } : {}) },
    });
  });
  router.get('/auth/tokens', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderTokensPage({ baseUrl: baseUrlOf(ctx, settings), ...settings.tokensHelp });
  });
}

function baseUrlOf(ctx: Context, settings: AccessSettings): string {
  return settings.publicUrl ?? `${ctx.protocol}://${ctx.host}`;
}
