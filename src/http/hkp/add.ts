// POST /pks/add: read the key data, hand it to the key service, report what happened.
import type { Context } from 'koa';
import { addSummaryJson, addSummaryLine } from '../../formats/addSummary.js';
import type { AccessPolicy } from '../../services/accessService.js';
import type { KeySubmission } from '../../services/keyService.js';
import { tokenOf } from '../auth.js';
import { extractKeyText, readBody } from '../body.js';
import { parseOptions, wantsJson } from '../params.js';

export function addHandler(keys: KeySubmission, maxBodyBytes: number, pushPolicy: AccessPolicy = 'open') {
  return async (ctx: Context): Promise<void> => {
    const options = parseOptions(ctx.query);
    const body = await readBody(ctx, maxBodyBytes);
    const keytext = await extractKeyText(ctx, body);
    const outcome = await keys.submit(keytext, { source: 'http', remoteAddress: ctx.ip, token: tokenOf(ctx), pushPolicy });
    ctx.state['keys'] = outcome.inserted.length + outcome.updated.length + outcome.unchanged.length;
    if (options.mr || wantsJson(ctx)) {
      ctx.type = 'application/json';
      ctx.body = addSummaryJson(outcome);
    } else {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = addSummaryLine(outcome);
    }
  };
}
