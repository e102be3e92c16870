import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';

describe('AppError', () => {
  it('keeps status, reason code, message and details', () => {
    const e = new AppError(422, 'unusable_key', 'no usable key', { rejected: [] });
    expect(e).toBeInstanceOf(Error);
    expect([e.status, e.code, e.message, e.details]).toEqual([422, 'unusable_key', 'no usable key', { rejected: [] }]);
  });

  it('captures no stack frames for a client error (4xx), and leaves the stack depth as it was', () => {
    const limit = Error.stackTraceLimit;
    const e = new AppError(429, 'rate_limited', 'too many requests');
    expect(e.stack).toBe('Error: too many requests');
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('plain').stack).toMatch(/\n\s+at /);
  });

  it('keeps the stack of a server error (5xx), which is logged', () => {
    expect(new AppError(503, 'unavailable', 'database is not answering').stack).toMatch(/\n\s+at /);
  });
});
