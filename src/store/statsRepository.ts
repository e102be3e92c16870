// Insert/update counts for op=stats, read from the hourly counter table (never a scan of keys).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from './database.js';
import type { ChangeCounts, DailyChangeCounts } from '../vocabulary.js';

export interface StoreStats {
  totalKeys: number;
  last24h: ChangeCounts;
  last7d: ChangeCounts;
  /** Hour (ISO, UTC) → counts, the last 24 hours that saw changes. */
  hourly: ({ hour: string } & ChangeCounts)[];
  /** Day (YYYY-MM-DD, UTC) → counts, the last 7 days that saw changes. */
  daily: DailyChangeCounts[];
}

/** Change counts per day (UTC) of the hours in the window, oldest first; days without changes left out. */
export async function dailyChangeCounts(db: Kysely<Database>, window: RawBuilder<boolean>): Promise<DailyChangeCounts[]> {
  const rows = await db
    .selectFrom('key_stats_hourly')
    .select([
      sql<string>`to_char(date_trunc('day', hour at time zone 'UTC'), 'YYYY-MM-DD')`.as('day'),
      sql<string>`sum(inserted)`.as('inserted'),
      sql<string>`sum(updated)`.as('updated'),
    ])
    .where(window)
    .groupBy(sql`1`)
    .orderBy(sql`1`)
    .execute();
  return rows.map((r) => ({ day: r.day, inserted: Number(r.inserted), updated: Number(r.updated) }));
}

export class StatsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Keys stored: every insert counted (the same number as stats().totalKeys). */
  async totalKeys(): Promise<number> {
    const row = await this.db
      .selectFrom('key_stats_hourly')
      .select(sql<string>`coalesce(sum(inserted), 0)`.as('total'))
      .executeTakeFirstOrThrow();
    return Number(row.total);
  }

  async stats(): Promise<StoreStats> {
    const totals = await this.db
      .selectFrom('key_stats_hourly')
      .select([
        sql<string>`coalesce(sum(inserted), 0)`.as('total'),
        sql<string>`coalesce(sum(inserted) filter (where hour > now() - interval '24 hours'), 0)`.as('inserted24h'),
        sql<string>`coalesce(sum(updated) filter (where hour > now() - interval '24 hours'), 0)`.as('updated24h'),
        sql<string>`coalesce(sum(inserted) filter (where hour > now() - interval '7 days'), 0)`.as('inserted7d'),
        sql<string>`coalesce(sum(updated) filter (where hour > now() - interval '7 days'), 0)`.as('updated7d'),
      ])
      .executeTakeFirstOrThrow();
    const hourly = await this.db
      .selectFrom('key_stats_hourly')
      .select(['hour', 'inserted', 'updated'])
      .where('hour', '>', sql<Date>`now() - interval '24 hours'`)
      .orderBy('hour')
      .execute();
    const daily = await dailyChangeCounts(this.db, sql<boolean>`hour > now() - interval '7 days'`);
    return {
      totalKeys: Number(totals.total),
      last24h: { inserted: Number(totals.inserted24h), updated: Number(totals.updated24h) },
      last7d: { inserted: Number(totals.inserted7d), updated: Number(totals.updated7d) },
      hourly: hourly.map((h) => ({ hour: new Date(h.hour).toISOString(), inserted: h.inserted, updated: h.updated })),
      daily,
    };
  }
}
