// keys.openpgp.org's VKS API (Hagrid) over keystore's store: upload answers each address's publication status,
// and request-verify, which there mails a confirmation link, is answered with what publishes an address here.
import { AppError } from '../errors.js';
import { emailOf, readKeyData } from '../openpgp/index.js';
import type { KeyReader } from '../store/keyStore.js';
import type { AccessPolicy, AuthenticatedToken } from './accessService.js';
import { MODERN_VERSIONS, type CertService } from './certService.js';
import type { KeyService } from './keyService.js';

/** Hagrid's statuses: published (by-email serves the key), unpublished, revoked (the user ID); pending is never used. */
export type AddressStatus = 'published' | 'unpublished' | 'revoked';

export interface VksStatus {
  /** Names the uploaded key in request-verify: its fingerprint (keystore keeps no upload state). */
  token: string;
  keyFingerprint: string;
  status: Record<string, AddressStatus>;
}

export interface VksRequest {
  remoteAddress: string;
  /** The valid access token the request carried (Authorization), or null. */
  accessToken: AuthenticatedToken | null;
}

export class VksService {
  constructor(
    private readonly keys: KeyService,
    private readonly queries: KeyReader,
    private readonly certs: CertService,
    private readonly pushPolicy: AccessPolicy,
  ) {}

  /** Stores one key (validation, merge, push policy and audit as POST /pks/add) and answers its addresses' status. */
  async upload(keytext: string | Uint8Array, request: VksRequest): Promise<VksStatus> {
    const found = readKeyData(keytext).keys.length;
    if (found > 1) throw new AppError(400, 'bad_request', `the upload holds ${found} keys: upload one key at a time`);
    const result = await this.keys.submit(keytext, this.submitContext(request));
    const fingerprint = result.inserted[0] ?? result.updated[0] ?? result.unchanged[0];
    if (!fingerprint) throw new AppError(422, 'unusable_key', result.rejected.map((r) => r.reason).join('; ') || 'no usable key');
    return this.status(fingerprint);
  }

  /**
   * Hagrid mails each address a link that publishes it. keystore sends no mail: with PUSH_POLICY=open every
   * address is published at upload; with PUSH_POLICY=token an address is published by a push with an access token
   * of that address, which this request is when it carries one (the stored key is pushed again under it, and the
   * audit log records that). Answers the status as upload does.
   */
  async requestVerify(token: string, addresses: string[], request: VksRequest): Promise<VksStatus> {
    const fingerprint = token.toUpperCase();
    if (!/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(fingerprint)) throw new AppError(400, 'bad_request', 'token is not one an upload answered');
    const [stored] = await this.certs.certs({ kind: 'fingerprint', fingerprint }, MODERN_VERSIONS).catch((e: unknown) => {
      if (e instanceof AppError && e.status === 404) throw new AppError(404, 'not_found', 'no key for this token: upload it first');
      throw e;
    });
    const asked = new Set(addresses.map((a) => a.toLowerCase()));
    const email = request.accessToken?.identity;
    if (this.pushPolicy === 'token' && email !== undefined && asked.has(email) && stored!.fingerprint === fingerprint) {
      await this.keys.submit(stored!.packets, this.submitContext(request));
    }
    return this.status(fingerprint);
  }

  private submitContext(request: VksRequest) {
    return { source: 'http' as const, remoteAddress: request.remoteAddress, token: request.accessToken, pushPolicy: this.pushPolicy };
  }

  /** Each address on the key: revoked when all its user IDs are, else published or not (see CertService). */
  private async status(fingerprint: string): Promise<VksStatus> {
    const [row] = await this.queries.index({ kind: 'fingerprint', fingerprint }, { offset: 0, limit: 1, versions: MODERN_VERSIONS });
    if (!row) throw new AppError(404, 'not_found', 'no key with this fingerprint');
    const vouched = this.pushPolicy === 'token' ? new Set(await this.certs.tokenVouchedEmails(row.fingerprint)) : null;
    const live = new Set<string>();
    const all = new Set<string>();
    for (const userId of row.userIds) {
      const email = emailOf(userId.text);
      if (!email) continue;
      all.add(email);
      if (!userId.revoked) live.add(email);
    }
    const status: Record<string, AddressStatus> = {};
    for (const email of all) {
      status[email] = !live.has(email) ? 'revoked' : vouched === null || vouched.has(email) ? 'published' : 'unpublished';
    }
    return { token: row.fingerprint, keyFingerprint: row.fingerprint, status };
  }
}
