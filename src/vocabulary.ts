// The key vocabulary every layer speaks: the facts derived from a key at import, the summaries lookups and pages
// read back, what a search asks for, what a write changed and how a submission went. Types only, no imports, so
// src/openpgp, src/store, src/services, src/formats and src/http may all import it (eslint.config.js).
// Times are Unix seconds.

/** The reason a revocation gives (RFC 9580 reason code and text). */
export interface Revocation {
  code: number;
  text: string;
}

/** A user ID as the index lists it. */
export interface UserIdSummary {
  /** Decoded text (invalid UTF-8 replaced); the packet keeps the original bytes. */
  text: string;
  created: number;
  expires: number | null;
  revoked: boolean;
}

/** A (sub)key as the index lists it. */
export interface SubkeySummary {
  fingerprint: string;
  keyId: string;
  algorithm: number;
  bits: number;
  created: number;
  expires: number | null;
  revoked: boolean;
}

/** A primary key as listings show it, without its user IDs and subkeys. */
export interface KeySummary extends SubkeySummary {
  version: number;
}

/** Everything derived about a (sub)key at import. */
export interface SubkeyFacts extends SubkeySummary {
  /** What the key may do, from its key flags (or, without them, its algorithm): letters of "csea". */
  capabilities: string;
  /** The reason a revocation gives (code and text), when revoked with one. */
  revocation: Revocation | null;
}

/** A (sub)key as its page shows it; capabilities null when the stored row predates their derivation. */
export interface SubkeyListing extends SubkeySummary {
  capabilities: string | null;
  revocation: Revocation | null;
}

/** Everything derived about a user ID at import. */
export interface UserIdFacts extends UserIdSummary {
  email: string | null;
  /** What stands between `<` and `>` (an e-mail address or an account name), normalised (identityOf), at most 254 characters. */
  identity: string | null;
  /** Web Key Directory hash of the address's local part (as gpg computes it, from the address as written). */
  wkdHash: string | null;
  /** The distinct lower-cased words of the text, as word searches match them (userIdWords). */
  words: string[];
  primary: boolean;
}

/** One signature on a user ID or subkey, as derived at import. */
export interface SignatureFact {
  type: number;
  /** Long key ID of the issuer, when the signature names one. */
  issuer: string | null;
  created: number;
}

/** Signatures per user ID and per subkey, aligned with the key's userIds and subkeys. */
export interface SignatureFacts {
  userIds: SignatureFact[][];
  subkeys: SignatureFact[][];
}

/** Everything derived from a merged key at import: what the store indexes beside the key's bytes. */
export interface KeyRecord extends SubkeyFacts {
  version: number;
  userIds: UserIdFacts[];
  userAttributes: number;
  subkeys: SubkeyFacts[];
  signatures: number;
  signatureFacts: SignatureFacts;
}

/** A key's index facts, as the store gives them to index listings (HKP index/vindex, HKP v2). */
export interface IndexRow extends KeySummary {
  userIds: UserIdSummary[];
  subkeys: SubkeySummary[];
  signatureFacts: SignatureFacts;
}

/** A stored key's bytes, as a lookup finds them. */
export interface FoundKey {
  fingerprint: string;
  version: number;
  packets: Uint8Array;
}

/** What a lookup asks for; the store serves every kind from an index. */
export type KeyQuery =
  | { kind: 'fingerprint'; fingerprint: string }
  | { kind: 'longId'; keyId: string }
  | { kind: 'shortId'; keyId: string }
  /** An identity (e-mail address or account name) in normal form: user IDs with exactly that identity. */
  | { kind: 'identity'; identity: string }
  /** text: the whole user ID (any case); identity: the search as an identity too, when it can be one. */
  | { kind: 'exactUserId'; text: string; identity: string | null }
  /** words: distinct lower-cased whole words (userIdWords), at least one; text: the search, for ranking. */
  | { kind: 'words'; words: string[]; text: string };

/** What a write touched: the fingerprints of the key and its subkeys, and its user IDs' identities (normal form). */
export interface KeyChange {
  fingerprints: string[];
  identities: string[];
}

/** A change, or "everything" when a change cannot be told exactly (too long for a notification, unreadable). */
export type KeyChangeNews = KeyChange | 'all';

/** What merging one key into the store did. */
export type MergeStatus = 'inserted' | 'updated' | 'unchanged';

/** A key of a submission that was refused as a whole. */
export interface RejectedKey {
  fingerprint?: string;
  reason: string;
}

/** A component (user ID, subkey, signature) left out of a stored key, and why. */
export interface DroppedComponent {
  fingerprint: string;
  component: string;
  reason: string;
  /** Set when the drop may be undone later: the certification's issuer is not stored (yet). */
  awaitsIssuer?: true;
}

/** How a submission of keys went, key by key (fingerprints by outcome). */
export interface SubmitResult {
  inserted: string[];
  updated: string[];
  unchanged: string[];
  rejected: RejectedKey[];
  dropped: DroppedComponent[];
}

/** Keys inserted and updated in a period (the hourly counters summed). */
export interface ChangeCounts {
  inserted: number;
  updated: number;
}

/** The change counts of one day (YYYY-MM-DD, UTC). */
export type DailyChangeCounts = { day: string } & ChangeCounts;
