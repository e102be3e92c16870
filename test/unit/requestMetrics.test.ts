import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import { parseSamples, sampleValue } from '../helpers/prometheus.js';

describe('request metrics (counted aside, exported at each scrape)', () => {
  it('exports cumulative buckets, sum and count per route and method, and requests per status', async () => {
    const metrics = new Metrics({ version: 'test' });
    // On a bound counts in that bound's bucket; past the last bound only in +Inf.
    for (const seconds of [0.005, 0.0051, 0.7, 40]) metrics.observeRequest({ route: 'lookup:get', method: 'GET', status: 200 }, seconds);
    metrics.observeRequest({ route: 'lookup:get', method: 'GET', status: 404 }, 0.001);
    metrics.observeRequest({ route: 'add', method: 'POST', status: 422 }, 0.02);
    const samples = parseSamples(await metrics.render());
    const bucket = (le: string) => sampleValue(samples, 'keystore_http_request_duration_seconds_bucket', { route: 'lookup:get', method: 'GET', le });
    expect([bucket('0.005'), bucket('0.01'), bucket('0.5'), bucket('1'), bucket('30'), bucket('+Inf')]).toEqual([2, 3, 3, 4, 4, 5]);
    expect(sampleValue(samples, 'keystore_http_request_duration_seconds_count', { route: 'lookup:get', method: 'GET' })).toBe(5);
    expect(sampleValue(samples, 'keystore_http_request_duration_seconds_sum', { route: 'lookup:get', method: 'GET' })).toBeCloseTo(40.7111, 6);
    expect(sampleValue(samples, 'keystore_http_requests_total', { route: 'lookup:get', method: 'GET', status: '200' })).toBe(4);
    expect(sampleValue(samples, 'keystore_http_requests_total', { route: 'lookup:get', method: 'GET', status: '404' })).toBe(1);
    expect(sampleValue(samples, 'keystore_http_requests_total', { route: 'add', method: 'POST', status: '422' })).toBe(1);
    expect(sampleValue(samples, 'keystore_http_request_duration_seconds_bucket', { route: 'add', method: 'POST', le: '0.025' })).toBe(1);
  });

  it('gives every scrape the totals so far, not what came since the last one', async () => {
    const metrics = new Metrics({ version: 'test' });
    const count = async () =>
      sampleValue(parseSamples(await metrics.render()), 'keystore_http_requests_total', { route: 'version', method: 'GET', status: '200' });
    metrics.observeRequest({ route: 'version', method: 'GET', status: 200 }, 0.001);
    expect(await count()).toBe(1);
    metrics.observeRequest({ route: 'version', method: 'GET', status: 200 }, 0.001);
    expect(await count()).toBe(2);
    expect(await count()).toBe(2);
  });
});
