import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { errorJson, logRequest } from '../../src/http/requestOutcome.js';
import { capturingLogger } from '../helpers/server.js';

describe('errorJson', () => {
  it('keeps code numeric (the status Singularity reads) and names the stable reason beside it', () => {
    const body = JSON.parse(errorJson(new AppError(429, 'rate_limited', 'slow down')));
    expect(body).toEqual({ error: { code: 429, reason: 'rate_limited', message: 'slow down' } });
  });

  it("adds the error's details beside the error object", () => {
    const body = JSON.parse(errorJson(new AppError(422, 'unusable_key', 'no usable key', { rejected: [{ reason: 'x' }] })));
    expect(body).toEqual({ error: { code: 422, reason: 'unusable_key', message: 'no usable key' }, rejected: [{ reason: 'x' }] });
  });
});

describe('logRequest', () => {
  const fields = {
    requestId: 'r',
    method: 'GET',
    path: '/pks/lookup',
    op: 'get',
    search: 'fingerprint',
    keys: undefined,
    started: process.hrtime.bigint(),
    remote: '127.0.0.1',
  };

  it('writes the reason of an error answer', () => {
    const lines: Record<string, unknown>[] = [];
    logRequest(capturingLogger(lines), { ...fields, status: 404, reason: 'not_found' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'request', status: 404, reason: 'not_found' });
  });

  it('writes no reason for a success', () => {
    const lines: Record<string, unknown>[] = [];
    logRequest(capturingLogger(lines), { ...fields, status: 200 });
    expect(lines[0]).toMatchObject({ msg: 'request', status: 200 });
    expect(lines[0]).not.toHaveProperty('reason');
  });
});
