// Prints the query plan (EXPLAIN ANALYZE) of each search kind on a database holding at least N keys,
// filling it with synthetic rows (SQL-generated facts, not real keys) when it holds fewer.
// Usage: DATABASE_URL=postgres://... npx tsx bench/explain-searches.ts [N=100000]
import { sql } from 'kysely';
import { userIdWords } from '../src/openpgp/index.js';
import { parseSearch } from '../src/services/search.js';
import { openDatabase } from '../src/store/database.js';
import { KeyQueries } from '../src/store/keyQueries.js';
import type { KeyQuery } from '../src/vocabulary.js';
import { migrateToLatest } from '../src/store/migrate.js';

const target = Number(process.argv[2] ?? 100_000);
const FIRST_NAMES = [
  'Alice',
  'Bob',
  'Carol',
  'Dave',
  'Erin',
  'Frank',
  'Grace',
  'Heidi',
  'Ivan',
  'Judy',
  'Mallory',
  'Niaj',
  'Olivia',
  'Peggy',
  'Rupert',
  'Sybil',
  'Trent',
  'Victor',
  'Walter',
  'Zoë',
];
const LAST_NAMES = [
  'Smith',
  'Müller',
  'García',
  'Nakamura',
  'Kowalski',
  'Okafor',
  'Dubois',
  'Rossi',
  'Jensen',
  'Novák',
  'Vernooĳ',
  'Haddad',
  'Silva',
  'Kim',
  'Ivanova',
  'Nguyen',
  'Öztürk',
  'Fischer',
  'Ruiz',
  'Sato',
];
// user_ids.words as the app writes them (userIdWords), without lower() in SQL (which depends on the locale).
const firstWords = FIRST_NAMES.map((n) => userIdWords(n)[0]!);
const lastWords = LAST_NAMES.map((n) => userIdWords(n)[0]!);
const url = process.env['DATABASE_URL'];
const { db, close } = await openDatabase({ url, dataDir: process.env['DATA_DIR'] ?? './data' });
await migrateToLatest(db);

const { n } = await db
  .selectFrom('keys')
  .select((eb) => eb.fn.countAll<string>().as('n'))
  .executeTakeFirstOrThrow();
const have = Number(n);
if (have < target) {
  console.error(`adding ${target - have} synthetic keys (have ${have})…`);
  const first = have + 1;
  for (let from = first; from <= target; from += 20_000) {
    const to = Math.min(target, from + 19_999);
    await sql`
      with g as (
        select i,
          upper(md5('k' || i) || substr(md5('x' || i), 1, 8)) as fpr,
          upper(md5('s' || i) || substr(md5('y' || i), 1, 8)) as sub,
          (${sql.val(FIRST_NAMES)}::text[])[1 + i % 20] as first_name,
          (${sql.val(LAST_NAMES)}::text[])[1 + (i / 20) % 20] as last_name,
          (${sql.val(firstWords)}::text[])[1 + i % 20] as first_word,
          (${sql.val(lastWords)}::text[])[1 + (i / 20) % 20] as last_word
        from generate_series(${from}::int, ${to}::int) as i
      ), k as (
        insert into keys (fingerprint, key_id, version, algorithm, bits, created, expires, revoked, packets, size,
          user_id_count, user_attribute_count, subkey_count, signature_count, primary_user_id, signature_facts)
        select fpr, right(fpr, 16), 4, 22, 255, 1500000000 + i * 600, null::bigint, false, '\\x00'::bytea, 1, 1, 0, 1, 2,
          first_name || ' ' || last_name || ' ' || i || ' <user' || i || '@example' || (i % 97) || '.org>', '{"userIds":[[]],"subkeys":[[]]}'::jsonb
        from g returning id, fingerprint, created, primary_user_id
      ), ids as (
        insert into key_identifiers (key_row, is_primary, fingerprint, long_id, short_id, algorithm, bits, created, expires, revoked)
        select id, true, fingerprint, right(fingerprint, 16), right(fingerprint, 8), 22, 255, created, null::bigint, false from k
        union all
        select k.id, false, g.sub, right(g.sub, 16), right(g.sub, 8), 18, 255, k.created, null::bigint, false from k join g on g.fpr = k.fingerprint
      )
      insert into user_ids (key_row, position, uid, email, words, created, expires, revoked, is_primary)
      select k.id, 0, k.primary_user_id, lower(substring(k.primary_user_id from '<(.*)>')),
        array[g.first_word, g.last_word, g.i::text, 'user' || g.i, 'example' || (g.i % 97), 'org'], k.created, null::bigint, false, true
      from k join g on g.fpr = k.fingerprint
    `.execute(db);
    console.error(`  ${to} keys`);
  }
}
await sql`analyze`.execute(db);

const sample = await db.selectFrom('keys').select(['fingerprint']).orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
const subkey = await db
  .selectFrom('key_identifiers')
  .select(['fingerprint'])
  .where('is_primary', '=', false)
  .orderBy('key_row', 'desc')
  .limit(1)
  .executeTakeFirstOrThrow();
const email = await db
  .selectFrom('user_ids')
  .select(['email', 'uid'])
  .where('email', 'is not', null)
  .orderBy('key_row', 'desc')
  .limit(1)
  .executeTakeFirstOrThrow();

const searches: [string, KeyQuery][] = [
  ['fingerprint', { kind: 'fingerprint', fingerprint: sample.fingerprint }],
  ['subkey fingerprint', { kind: 'fingerprint', fingerprint: subkey.fingerprint }],
  ['long key ID', { kind: 'longId', keyId: sample.fingerprint.slice(-16) }],
  ['short key ID', { kind: 'shortId', keyId: sample.fingerprint.slice(-8) }],
  ['e-mail', { kind: 'identity', identity: email.email! }],
  ['exact user ID', { kind: 'exactUserId', text: email.uid, identity: null }],
  ['exact user ID or identity', { kind: 'exactUserId', text: email.email!, identity: email.email! }],
  ['one word', parseSearch('Vernooĳ', false)],
  ['two words', parseSearch('Zoë Nakamura', false)],
];
const queries = new KeyQueries(db);
console.log(`# Query plans on ${Math.max(have, target)} keys (${url ? 'PostgreSQL' : 'PGlite'})\n`);
for (const [name, query] of searches) {
  const statement = queries.indexQuery(query, { offset: 0, limit: 100, versions: [4] });
  const { rows: plan } = await sql<{ 'QUERY PLAN': string }>`explain (analyze, buffers off) ${statement}`.execute(db);
  console.log(`## ${name}\n\n\`\`\`\n${plan.map((r) => r['QUERY PLAN']).join('\n')}\n\`\`\`\n`);
}
await close();
