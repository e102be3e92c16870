// keystore export DIR: the whole store as keydump files plus checksums; see services/exportService.ts.
import type { Command } from 'commander';
import { CHECKSUM_FILE, MANIFEST_FILE, runExport } from '../services/exportService.js';
import { ExportQueries } from '../store/exportQueries.js';
import { openMigratedDatabase, type CliContext } from './context.js';

export function registerExport(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description(`write every stored key to DIR as keydump files (keystore-0000.pgp, ...) with ${CHECKSUM_FILE} and ${MANIFEST_FILE}`)
    .argument('<dir>', 'a new or empty folder')
    .option('--keys-per-file <n>', 'keys in each file', '1000')
    .action(async (dir: string, options: { keysPerFile: string }) => {
      const keysPerFile = Number(options.keysPerFile);
      if (!Number.isInteger(keysPerFile) || keysPerFile < 1) throw new Error('--keys-per-file must be a positive integer');
      const database = await openMigratedDatabase(ctx, 'export');
      try {
        const status = ctx.interactive && ctx.status ? ctx.status : null;
        const snapshot = database.connection?.sharedSession !== true;
        const summary = await runExport(new ExportQueries(database.db, { snapshot }), dir, {
          keysPerFile,
          ...(status ? { onProgress: (keys: number) => status(`${keys} keys exported`) } : {}),
        });
        status?.('');
        const bytes = summary.files.reduce((n, f) => n + f.bytes, 0);
        ctx.print(
          `exported ${summary.keys} keys (${(bytes / (1024 * 1024)).toFixed(1)} MiB) in ${summary.files.length} file(s) to ${dir} in ${summary.seconds.toFixed(1)} s`,
        );
        ctx.print(`check with: (cd ${dir} && sha256sum -c ${CHECKSUM_FILE})`);
      } finally {
        await database.close();
      }
    });
}
