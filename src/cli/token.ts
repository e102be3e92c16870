// keystore token create|list|revoke: access tokens for PUSH_POLICY=token / LOOKUP_POLICY=token.
import type { Command } from 'commander';
import { AccessService, type NewToken, type TokenInfo, type TokenOwner } from '../services/accessService.js';
import type { DatabaseHandle } from '../store/database.js';
import { TokenRepository } from '../store/tokenRepository.js';
import { openMigratedDatabase, type CliContext } from './context.js';

type Db = DatabaseHandle['db'];

function accessService(db: Db): AccessService {
  return new AccessService(new TokenRepository(db));
}

/** A token for an identity (`{ identity }`: an e-mail address or an account name) or for an e-mail address. */
export function createToken(db: Db, owner: TokenOwner): Promise<NewToken> {
  return accessService(db).create(owner);
}

export function listTokens(db: Db): Promise<TokenInfo[]> {
  return accessService(db).list();
}

export function revokeToken(db: Db, id: string): Promise<TokenInfo> {
  return accessService(db).revoke(id);
}

/** What `token create` prints: the secret alone on the last line, so scripts can take it with `tail -n 1`. */
export function formatNewToken(token: NewToken): string[] {
  return [`token ${token.id} created for ${token.identity}; only its hash is stored, so it is shown this once:`, token.secret];
}

/** What `token list` prints: one line per token, never a secret. */
export function formatTokenList(tokens: TokenInfo[]): string[] {
  if (tokens.length === 0) return ['no tokens (create one with: keystore token create --identity NAME, or --email ADDRESS)'];
  const rows = tokens.map((t) => [
    t.id,
    t.identity,
    t.created.toISOString(),
    t.lastUsed ? t.lastUsed.toISOString() : 'never',
    t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : 'active',
  ]);
  return table([['ID', 'IDENTITY', 'CREATED', 'LAST USED', 'STATUS'], ...rows]);
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

export function registerToken(program: Command, ctx: CliContext): void {
  const token = program.command('token').description('manage access tokens (PUSH_POLICY=token, LOOKUP_POLICY=token)');

  const withDatabase = async (work: (db: Db) => Promise<void>) => {
    const database = await openMigratedDatabase(ctx, 'token');
    try {
      await work(database.db);
    } finally {
      await database.close();
    }
  };

  const create = token
    .command('create')
    .description('create a token for an identity (account name or e-mail address); prints the token once, alone on the last line')
    .option('--identity <name>', 'the identity (what stands between < and > in a user ID) keys pushed with this token must carry')
    .option('--email <address>', 'the same for an e-mail address, checked as one')
    .action((options: { identity?: string; email?: string }) => {
      if ((options.identity === undefined) === (options.email === undefined)) create.error('error: give one of --identity NAME and --email ADDRESS');
      const owner: TokenOwner = options.identity !== undefined ? { identity: options.identity } : { email: options.email! };
      return withDatabase(async (db) => {
        for (const line of formatNewToken(await createToken(db, owner))) ctx.print(line);
      });
    });

  token
    .command('list')
    .description('list tokens: id, identity, created, last used, revoked (never the secrets)')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) =>
      withDatabase(async (db) => {
        const tokens = await listTokens(db);
        if (options.json) ctx.print(JSON.stringify(tokens));
        else for (const line of formatTokenList(tokens)) ctx.print(line);
      }),
    );

  token
    .command('revoke')
    .description('revoke a token by id (see token list); it stops working at once')
    .argument('<id>', 'token id')
    .action((id: string) =>
      withDatabase(async (db) => {
        const revoked = await revokeToken(db, id);
        ctx.print(`token ${revoked.id} (${revoked.identity}) is revoked since ${revoked.revokedAt?.toISOString()}`);
      }),
    );
}
