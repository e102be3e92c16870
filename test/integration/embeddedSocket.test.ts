// The embedded database's socket against a real PGlite: transactions of socket clients and of the owner's own
// queries never interleave, a client killed in a transaction is rolled back, and junk on the socket is cut off.
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionArbiter, serveEmbeddedSocket, SOCKET_NAME, type EmbeddedSocketServer } from '../../src/store/embeddedSocket.js';
import { tempDir } from '../e2e/helpers/run.js';

describe('the embedded database socket', () => {
  let dir: string;
  let lite: PGlite;
  let arbiter: SessionArbiter;
  let socket: EmbeddedSocketServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    dir = await tempDir('keystore-socket-');
    lite = await PGlite.create('memory://');
    arbiter = new SessionArbiter();
    socket = await serveEmbeddedSocket(lite, arbiter, dir);
    pool = new pg.Pool({ connectionString: `postgres://postgres@localhost/postgres?host=${encodeURIComponent(dir)}`, max: 4 });
    await pool.query('create table t (id serial primary key, who text not null)');
  });
  afterAll(async () => {
    await pool?.end();
    await socket?.close();
    await lite?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("runs the owner's transactions and the clients' one after the other, each whole", async () => {
    const pause = () => new Promise((r) => setTimeout(r, 2));
    const own = async (i: number) => {
      const release = await arbiter.acquire();
      try {
        await lite.query('begin');
        await lite.query('insert into t (who) values ($1)', [`own ${i}`]);
        await pause();
        await lite.query(i % 4 === 0 ? 'rollback' : 'commit');
      } finally {
        release();
      }
    };
    const client = async (i: number) => {
      const c = await pool.connect();
      try {
        await c.query('begin');
        await c.query('insert into t (who) values ($1)', [`client ${i}`]);
        await pause();
        await c.query(i % 3 === 0 ? 'rollback' : 'commit');
      } finally {
        c.release();
      }
    };
    await Promise.all(Array.from({ length: 24 }, (_, i) => [own(i), client(i)]).flat());
    const { rows } = await pool.query<{ who: string }>('select who from t order by id');
    const expected = Array.from({ length: 24 }, (_, i) => [i % 4 === 0 ? [] : [`own ${i}`], i % 3 === 0 ? [] : [`client ${i}`]]).flat(2);
    expect(rows.map((r) => r.who).sort()).toEqual(expected.sort());
    expect(rows).toHaveLength(18 + 16);
  });

  it('rolls back what a client left open when its connection dies, and serves the others on', async () => {
    const c = new pg.Client({ connectionString: `postgres://postgres@localhost/postgres?host=${encodeURIComponent(dir)}` });
    c.on('error', () => {});
    await c.connect();
    await c.query('begin');
    await c.query("insert into t (who) values ('left open')");
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const { rows } = await pool.query<{ n: number }>("select count(*)::int as n from t where who = 'left open'");
    expect(rows).toEqual([{ n: 0 }]);
    const release = await arbiter.acquire();
    expect(lite.isInTransaction()).toBe(false);
    release();
  });

  it('cuts off a connection sending what is not PostgreSQL', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const raw = connect(`${dir}/${SOCKET_NAME}`, () => raw.write(Buffer.from([0, 0, 0, 2, 1, 2, 3, 4])));
      raw.on('close', () => resolve(true));
      raw.on('error', () => {});
      setTimeout(() => resolve(false), 5000).unref();
    });
    expect(closed).toBe(true);
    expect((await pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
  });
});
