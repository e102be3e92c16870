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
  /**
   * `snapshot: false` reads each page on its own: for an embedded database reached through its server, whose one
   * session a transaction would keep from the server for the whole export. Keys are never deleted and pages go by
   * id, so each key is still exported once, as it was when its page was read.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: { snapshot: boolean } = { snapshot: true },
  ) {}

  /**
   * Calls `page` with each page of keys, in id order, inside one repeatable-read transaction, so keys
   * written meanwhile (by a running server) neither appear twice nor make the export inconsistent.
   */
  async forEachPage(pageSize: number, page: (keys: ExportedKey[]) => Promise<void>): Promise<void> {
    if (!this.options.snapshot) return this.pages(this.db, pageSize, page);
    await this.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute((trx) => this.pages(trx, pageSize, page));
  }

  private async pages(db: Kysely<Database>, pageSize: number, page: (keys: ExportedKey[]) => Promise<void>): Promise<void> {
    let after: string | null = null;
    for (;;) {
      const rows = await db
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
  }
}
