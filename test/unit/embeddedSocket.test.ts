// The pieces of the embedded database's socket that need no database: reading the session's state from the
// backend's answer, and handing the one session out in turn.
import { describe, expect, it } from 'vitest';
import { lastReadyStatus, SessionArbiter } from '../../src/store/embeddedSocket.js';

function message(type: string, body: number[]): number[] {
  const length = 4 + body.length;
  return [type.charCodeAt(0), (length >>> 24) & 255, (length >>> 16) & 255, (length >>> 8) & 255, length & 255, ...body];
}

describe('lastReadyStatus', () => {
  it('reads the status of the last ReadyForQuery, and none when there is none', () => {
    const commandComplete = message('C', [...Buffer.from('INSERT 0 1\0')]);
    expect(lastReadyStatus(new Uint8Array([...commandComplete, ...message('Z', [0x54])]))).toBe('T');
    expect(lastReadyStatus(new Uint8Array([...message('Z', [0x54]), ...commandComplete, ...message('Z', [0x49])]))).toBe('I');
    expect(lastReadyStatus(new Uint8Array([...message('1', []), ...message('2', [])]))).toBeNull(); // ParseComplete, BindComplete
    expect(lastReadyStatus(new Uint8Array([...message('Z', [0x45])]))).toBe('E');
    // A 'Z' byte inside another message's body is not a ReadyForQuery.
    expect(lastReadyStatus(new Uint8Array(message('D', [0, 1, 0, 0, 0, 1, 0x5a])))).toBeNull();
    expect(lastReadyStatus(new Uint8Array(0))).toBeNull();
  });
});

describe('SessionArbiter', () => {
  it('hands the session to one holder at a time, first come first served', async () => {
    const arbiter = new SessionArbiter();
    const order: string[] = [];
    const first = await arbiter.acquire();
    const second = arbiter.acquire().then((release) => {
      order.push('second');
      return release;
    });
    const third = arbiter.acquire().then((release) => {
      order.push('third');
      release();
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    first();
    first(); // a second call hands nothing on twice
    const releaseSecond = await second;
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(['second']);
    releaseSecond();
    await third;
    expect(order).toEqual(['second', 'third']);
  });
});
