// Lookups from streaming-replication standbys (DATABASE_READ_URL), writes on the primary, without serving
// anything older than what this instance has written or heard of (docs/replicas.md).
//
// The rule: a read may go to a standby only once that standby has replayed the primary's WAL past the "fence",
// the primary's WAL position taken after the latest change this instance knows of — its own writes (after
// their commit) and other instances' (on their NOTIFY, which the primary sends at commit, before a standby has
// replayed it). While a fence is being taken, and while no standby has caught up with it, reads go to the
// primary. So a client reads its own push at once, and an answer cached after a change's invalidation was
// read from data that includes the change. A standby that fails is left out until it answers again.
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';

/** Runs a read-only query on whichever database may serve it now. */
export interface ReadSource {
  read<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T>;
}

/** Reads on one database (no standbys). */
export function directReads(db: Kysely<Database>): ReadSource {
  return { read: (run) => run(db) };
}

export interface Standby {
  /** For logs and metrics: host:port of its URL. */
  name: string;
  db: Kysely<Database>;
}

export interface ReadRouterOptions {
  primary: Kysely<Database>;
  standbys: Standby[];
  /** Whether an error means a database cannot be reached (then a read is retried on the primary). */
  isUnavailable: (e: unknown) => boolean;
  /** How often each standby's health and replay position are checked (ms). */
  pollMs?: number;
  /** A standby check slower than this counts as a failure (ms). */
  checkTimeoutMs?: number;
}

export type ReadTarget = 'primary' | 'standby';

interface StandbyState extends Standby {
  up: boolean;
  /** WAL position it had replayed when last asked (only grows while it stays up). */
  replayed: bigint;
}

/** "16/B374D848" → a number comparable with others. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new Error(`not a WAL position: ${text}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

// What a standby has replayed; a promoted standby (no longer in recovery) has everything it will ever have.
const REPLAYED = sql<{
  lsn: string | null;
}>`select (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end)::text as lsn`;
const PRIMARY_POSITION = sql<{ lsn: string }>`select pg_current_wal_lsn()::text as lsn`;

export class ReadRouter implements ReadSource {
  private readonly standbys: StandbyState[];
  private fence = 0n;
  // A fence is being taken (or could not be): until it is known, only the primary may serve.
  private fencing = false;
  private fenceUnknown = false;
  private fenceAgain = false;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Reads served, by where. */
  readonly served: Record<ReadTarget, number> = { primary: 0, standby: 0 };

  constructor(private readonly options: ReadRouterOptions) {
    // Up until a check says otherwise would send the first reads to a standby never heard from: start down.
    this.standbys = options.standbys.map((s) => ({ ...s, up: false, replayed: 0n }));
  }

  /** Checks every standby now and then every pollMs. */
  async start(): Promise<void> {
    await this.checkAll();
    const tick = () => {
      this.timer = setTimeout(
        () =>
          void this.checkAll().finally(() => {
            if (!this.closed) tick();
          }),
        this.options.pollMs ?? 1000,
      );
      this.timer.unref();
    };
    tick();
  }

  /** Standbys answering now, by name. */
  status(): { name: string; up: boolean }[] {
    return this.standbys.map((s) => ({ name: s.name, up: s.up }));
  }

  /**
   * A change was committed (here, or heard by NOTIFY): reads wait for it. Synchronous up to the point that
   * matters — from its return until the fence is known, reads go to the primary.
   */
  fenceNow(): void {
    if (this.standbys.length === 0) return;
    if (this.fencing) {
      // The position being taken may predate this change: take another after it.
      this.fenceAgain = true;
      return;
    }
    this.fencing = true;
    void this.takeFence();
  }

  private async takeFence(): Promise<void> {
    do {
      this.fenceAgain = false;
      try {
        const { rows } = await PRIMARY_POSITION.execute(this.options.primary);
        const lsn = parseLsn(rows[0]!.lsn);
        if (lsn > this.fence) this.fence = lsn;
        this.fenceUnknown = false;
      } catch {
        // The primary cannot say: reads stay on it (it fails them too) until the next check takes a fence.
        this.fenceUnknown = true;
      }
    } while (this.fenceAgain && !this.closed);
    this.fencing = false;
  }

  async read<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const standby = await this.standbyFor();
    if (standby) {
      try {
        const result = await run(standby.db);
        this.served.standby++;
        return result;
      } catch (e) {
        if (!this.options.isUnavailable(e)) throw e;
        standby.up = false;
      }
    }
    const result = await run(this.options.primary);
    this.served.primary++;
    return result;
  }

  /** A standby that is up and has replayed past the fence (asking it when what it said last is behind), or none. */
  private async standbyFor(): Promise<StandbyState | undefined> {
    if (this.fencing || this.fenceUnknown) return undefined;
    const fence = this.fence;
    for (let tried = 0; tried < this.standbys.length; tried++) {
      const standby = this.standbys[this.next++ % this.standbys.length]!;
      if (!standby.up) continue;
      if (standby.replayed < fence) await this.check(standby);
      // A change heard while asking moves the fence: this read started before it, so the older one applies.
      if (standby.up && standby.replayed >= fence && !this.fenceUnknown) return standby;
    }
    return undefined;
  }

  private async checkAll(): Promise<void> {
    if (this.fenceUnknown && !this.fencing) this.fenceNow();
    await Promise.all(this.standbys.map((s) => this.check(s)));
  }

  private async check(standby: StandbyState): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('standby check timed out')), this.options.checkTimeoutMs ?? 2000);
      timer.unref();
    });
    try {
      const { rows } = await Promise.race([REPLAYED.execute(standby.db), timeout]);
      const lsn = rows[0]?.lsn;
      if (!lsn) throw new Error('not replaying');
      const replayed = parseLsn(lsn);
      // Replay only moves forward; a standby rebuilt from an older copy is judged on what it says now.
      standby.replayed = standby.up ? (replayed > standby.replayed ? replayed : standby.replayed) : replayed;
      standby.up = true;
    } catch {
      standby.up = false;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
