// GET /pks/lookup: op=get serves armored keys; other ops answer 501 until implemented.
import type { Context } from 'koa';
import { encodeArmor } from '../../formats/armor.js';
import { AppError } from '../../errors.js';
import type { KeyService } from '../../services/keyService.js';
import { parseSearch } from '../../services/search.js';
import { parseLookup } from '../params.js';

export function lookupHandler(keys: KeyService) {
  return async (ctx: Context): Promise<void> => {
    const params = parseLookup(ctx.query);
    if (params.op !== 'get') {
      throw new AppError(501, 'unsupported_op', `op=${params.op} is not supported`);
    }
    if (!params.search) throw new AppError(400, 'invalid_search', 'missing search parameter');
    const query = parseSearch(params.search, params.exact);
    ctx.state['search'] = query.kind;
    const found = await keys.find(query);
    if (found.length === 0) throw new AppError(404, 'not_found', 'no key matches the search');
    ctx.state['keys'] = found.length;
    ctx.type = 'application/pgp-keys';
    ctx.body = encodeArmor(Buffer.concat(found.map((k) => k.packets)));
  };
}
