// Every stored key in id order, read in pages (keyset pagination) from one consistent snapshot.
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import { toBytes } from './keyQueries.js';

export interface ExportedKey {
  id: string;
  fingerprint: string;
  packets: Uint8Array;
}

export class ExportQueries {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Calls `page` with each page of keys, in id order, inside one repeatable-read transaction, so keys
   * written meanwhile (by a running server) neither appear twice nor make the export inconsistent.
   */
  async forEachPage(pageSize: number, page: (keys: ExportedKey[]) => Promise<void>): Promise<void> {
    await this.db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(async (trx) => {
      let after: string | null = null;
      for (;;) {
        const rows = await trx
          .selectFrom('keys')
          .select(['id', 'fingerprint', 'packets'])
          .$if(after !== null, (qb) => qb.where('id', '>', after!))
          .orderBy('id')
          .limit(pageSize)
          .execute();
        if (rows.length === 0) return;
        await page(rows.map((r) => ({ id: String(r.id), fingerprint: r.fingerprint, packets: toBytes(r.packets) })));
        after = String(rows[rows.length - 1]!.id);
      }
    });
  }
}
