import { describe, expect, it } from 'vitest';
import { MAX_FAILED_STARTS, restartDelayMs, workerCount, workerPoolSize } from '../../src/cluster.js';
import { loadConfig } from '../../src/config.js';

describe('cluster settings', () => {
  it('resolves WORKERS=auto to the CPUs but one, at least 1 and at most 64', () => {
    const auto = loadConfig({ DATABASE_URL: 'postgres://localhost/keys' });
    expect(workerCount(auto, 8)).toBe(7);
    expect(workerCount(auto, 2)).toBe(1);
    expect(workerCount(auto, 1)).toBe(1);
    expect(workerCount(auto, 128)).toBe(64);
    expect(workerCount(loadConfig({ DATABASE_URL: 'postgres://localhost/keys', WORKERS: '3' }), 8)).toBe(3);
    expect(workerCount(loadConfig({ WORKERS: 'auto' }), 8)).toBe(1);
  });

  it('splits DB_POOL_SIZE among the workers, at least 1 each', () => {
    expect(workerPoolSize(10, 1)).toBe(10);
    expect(workerPoolSize(10, 2)).toBe(5);
    expect(workerPoolSize(10, 4)).toBe(2);
    expect(workerPoolSize(10, 16)).toBe(1);
  });

  it('waits longer after each failed start, never in a tight loop', () => {
    expect(restartDelayMs(0)).toBe(100);
    const delays = Array.from({ length: MAX_FAILED_STARTS }, (_, i) => restartDelayMs(i + 1));
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(delays[0]).toBeGreaterThanOrEqual(500);
    expect(Math.max(...delays)).toBeLessThanOrEqual(8000);
  });
});
