// GnuPG 2.2 (gpg + dirmngr) against the real server: send, receive by every kind of ID, refresh, search, locate.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { GpgHome, parseColonListing, type ColonKey } from './helpers/gpg.js';
import { e2eBackend, serverAnswer } from './helpers/run.js';

describe(`gpg against the server on ${e2eBackend}`, () => {
  let server: TestServer;
  const homes: GpgHome[] = [];

  async function home(): Promise<GpgHome> {
    const h = await GpgHome.create(server.port);
    homes.push(h);
    return h;
  }

  beforeAll(async () => {
    server = await startTestServer(e2eBackend);
  });
  afterEach(async () => {
    await Promise.all(homes.splice(0).map((h) => h.close()));
  });
  afterAll(async () => {
    await Promise.all(homes.splice(0).map((h) => h.close()));
    await server?.close();
  });

  /** A key made and sent by gpg from its own home. */
  async function sentKey(name: string, email: string) {
    const owner = await home();
    const userId = `${name} <${email}>`;
    const { fingerprint, encryptionSubkey } = await owner.generateKey(userId);
    await send(owner, fingerprint);
    return { owner, userId, fingerprint, encryptionSubkey };
  }

  /** gpg --send-keys; on failure, the message says what the server answers to the same push. */
  async function send(owner: GpgHome, fingerprint: string) {
    const sent = await owner.gpg(['--send-keys', fingerprint]);
    if (sent.code !== 0) {
      const armored = (await owner.gpgOk(['--export', '--armor', fingerprint])).stdout;
      expect.fail(
        `gpg --send-keys exited ${sent.code}: ${sent.stderr}\nthe server answers the same push with: ${await serverAnswer(server.url, '/pks/add', { keytext: armored })}`,
      );
    }
    expect(sent.stderr).toMatch(/sending key/);
  }

  /** gpg --recv-keys or --refresh-keys; on failure, the message says what the server answers to op=get. */
  async function receive(receiver: GpgHome, args: string[], id: string) {
    const received = await receiver.gpg(args);
    if (received.code !== 0) {
      const replay = await serverAnswer(server.url, `/pks/lookup?op=get&options=mr&search=0x${id}`);
      expect.fail(`gpg ${args.join(' ')} exited ${received.code}: ${received.stderr}\nthe server answers op=get with: ${replay}`);
    }
    return received;
  }

  function expectImported(key: ColonKey | undefined, fingerprint: string, userId: string, subkey: string) {
    expect(key, `key ${fingerprint} in the receiving keyring`).toBeDefined();
    expect(key!.fingerprint).toBe(fingerprint);
    expect(key!.uids).toContain(userId);
    expect(key!.subkeys.map((s) => s.fingerprint)).toEqual([subkey]);
    expect(key!.subkeys[0]!.fields[0]).toBe('sub');
  }

  it('sends a key, then receives it by fingerprint, long ID, short ID and encryption subkey ID', { timeout: 120_000 }, async () => {
    const { userId, fingerprint, encryptionSubkey } = await sentKey('Gpg Sender', 'gpg.sender@example.org');
    const ids = {
      fingerprint: fingerprint,
      'long key ID': fingerprint.slice(-16),
      'short key ID': fingerprint.slice(-8),
      'subkey long key ID': encryptionSubkey.slice(-16),
    };
    for (const [kind, id] of Object.entries(ids)) {
      const receiver = await home();
      const received = await receive(receiver, ['--recv-keys', `0x${id}`], id);
      expect(received.stderr, kind).toMatch(/imported: 1/);
      expectImported(await receiver.listKey(fingerprint), fingerprint, userId, encryptionSubkey);
    }
  });

  it('refreshes a key: picks up a new user ID, then the revocation', { timeout: 120_000 }, async () => {
    const { owner, userId, fingerprint, encryptionSubkey } = await sentKey('Gpg Refresh', 'gpg.refresh@example.org');
    const receiver = await home();
    await receive(receiver, ['--recv-keys', fingerprint], fingerprint);
    expectImported(await receiver.listKey(fingerprint), fingerprint, userId, encryptionSubkey);

    const newUserId = 'Gpg Refresh (work) <gpg.refresh@work.example.org>';
    await owner.addUserId(fingerprint, newUserId);
    await send(owner, fingerprint);
    await receive(receiver, ['--refresh-keys'], fingerprint);
    const afterUid = await receiver.listKey(fingerprint);
    expect(afterUid!.uids.sort()).toEqual([newUserId, userId].sort());
    expect(afterUid!.pub[1]).not.toBe('r');

    await owner.importRevocation(fingerprint);
    expect((await owner.listKey(fingerprint))!.pub[1]).toBe('r');
    await send(owner, fingerprint);
    await receive(receiver, ['--refresh-keys', fingerprint], fingerprint);
    const revoked = await receiver.listKey(fingerprint);
    expect(revoked!.pub[1]).toBe('r');
    expect(revoked!.uids.sort()).toEqual([newUserId, userId].sort());
  });

  it('fails to receive a key that does not exist, saying there is no data', async () => {
    const receiver = await home();
    const missing = randomBytes(20).toString('hex').toUpperCase();
    const result = await receiver.gpg(['--recv-keys', `0x${missing}`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no data|not found/i);
    expect(await receiver.listKeys()).toEqual([]);
  });

  it('locates a key by e-mail with --auto-key-locate keyserver (op=get, exact=on)', async () => {
    const { userId, fingerprint, encryptionSubkey } = await sentKey('Gpg Locate', 'gpg.locate@example.org');
    const receiver = await home();
    const located = await receiver.gpg(['--with-colons', '--auto-key-locate', 'clear,keyserver', '--locate-external-keys', 'gpg.locate@example.org']);
    if (located.code !== 0) {
      const replay = await serverAnswer(server.url, '/pks/lookup?op=get&options=mr&search=gpg.locate@example.org&exact=on');
      expect.fail(`gpg --locate-external-keys exited ${located.code}: ${located.stderr}\nthe server answers with: ${replay}`);
    }
    expect(parseColonListing(located.stdout).map((k) => k.fingerprint)).toEqual([fingerprint]);
    expectImported(await receiver.listKey(fingerprint), fingerprint, userId, encryptionSubkey);
  });

  describe('--search-keys (op=index)', () => {
    /** Runs gpg --with-colons --search-keys and returns the machine-readable listing it prints. */
    async function search(term: string) {
      const searcher = await home();
      const result = await searcher.gpg(['--with-colons', '--search-keys', term]);
      if (result.code !== 0) {
        const replay = await serverAnswer(server.url, `/pks/lookup?op=index&options=mr&fingerprint=on&search=${encodeURIComponent(term)}`);
        expect.fail(`gpg --search-keys ${term} exited ${result.code}: ${result.stderr}\nthe server answers op=index with: ${replay}`);
      }
      const lines = result.stdout.split('\n').filter((l) => l !== '');
      const pubs = lines.filter((l) => l.startsWith('pub:')).map((l) => l.split(':'));
      const uids = lines.filter((l) => l.startsWith('uid:')).map((l) => l.split(':'));
      return { result, lines, pubs, uids };
    }

    function expectListing(found: Awaited<ReturnType<typeof search>>, fingerprint: string, userId: string) {
      expect(found.result.code, found.result.stderr).toBe(0);
      expect(found.lines[0], found.result.stdout).toMatch(/^info:1:\d+$/);
      expect(Number(found.lines[0]!.split(':')[2])).toBe(found.pubs.length);
      const pub = found.pubs.find((p) => p[1] === fingerprint);
      expect(pub, found.result.stdout).toBeDefined();
      // pub:<FPR>:<algo>:<bits>:<created>:<expires>:<flags>
      expect(pub!.length).toBe(7);
      expect(pub![2]).toBe('22'); // EdDSA
      expect(pub![4]).toMatch(/^\d+$/);
      expect(pub![5]).toBe('');
      expect(pub![6]).toBe('');
      expect(found.uids.map((u) => decodeURIComponent(u[1]!))).toContain(userId);
    }

    it('finds a key by e-mail', async () => {
      const { userId, fingerprint } = await sentKey('Search Mail', 'search.mail@example.org');
      expectListing(await search('search.mail@example.org'), fingerprint, userId);
      expectListing(await search('<search.mail@example.org>'), fingerprint, userId);
    });

    it('finds a key by name', async () => {
      const { userId, fingerprint } = await sentKey('Searchable Person', 'searchable.person@example.org');
      expectListing(await search('Searchable Person'), fingerprint, userId);
    });

    it('finds a key by fingerprint', async () => {
      const { userId, fingerprint } = await sentKey('Search Fingerprint', 'search.fpr@example.org');
      const found = await search(`0x${fingerprint}`);
      expectListing(found, fingerprint, userId);
      expect(found.pubs).toHaveLength(1);
    });
  });
});
