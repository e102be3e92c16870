// Typed parsing of HKP query parameters.
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../errors.js';

// A repeated parameter arrives as an array: the first value counts (as in SKS and Hockeypuck).
const single = z.preprocess((v) => (Array.isArray(v) ? v[0] : v), z.string().max(4096).optional());
const flag = z.preprocess((v) => (Array.isArray(v) ? v[0] : v), z.string().optional()).transform((v) => v === 'on');

const lookupSchema = z.object({
  op: single,
  search: single,
  options: single,
  exact: flag,
  fingerprint: flag,
  'x-pagesize': z.preprocess((v) => (Array.isArray(v) ? v[0] : v), z.coerce.number().int().min(1).max(100000).optional()),
  'x-pagetoken': single,
});

export interface LookupParams {
  op: string;
  search: string | undefined;
  mr: boolean;
  exact: boolean;
  fingerprint: boolean;
  pageSize: number | undefined;
  pageToken: string | undefined;
}

export function parseLookup(query: Context['query']): LookupParams {
  const parsed = lookupSchema.safeParse(query);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError(400, 'bad_request', `invalid parameter ${String(issue.path[0])}: ${issue.message}`);
  }
  const p = parsed.data;
  if (!p.op) throw new AppError(400, 'bad_request', 'missing op parameter (get, index, vindex or stats)');
  return {
    op: p.op.toLowerCase(),
    search: p.search,
    mr: hasMr(p.options),
    exact: p.exact,
    fingerprint: p.fingerprint,
    pageSize: p['x-pagesize'],
    pageToken: p['x-pagetoken'],
  };
}

export function parseOptions(query: Context['query']): { mr: boolean } {
  const raw = query['options'];
  return { mr: hasMr(Array.isArray(raw) ? raw[0] : raw) };
}

function hasMr(options: string | undefined): boolean {
  return (options ?? '').split(',').some((o) => o.trim().toLowerCase() === 'mr');
}

export function wantsJson(ctx: Context): boolean {
  return (ctx.get('accept') || '').toLowerCase().includes('application/json');
}
