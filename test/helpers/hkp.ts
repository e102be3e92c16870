// Small HKP client helpers for tests: push keys and fetch them as real clients do.
import { readPackets, type Packet } from '../../src/openpgp/packets.js';
import { decodeArmor } from '../../src/formats/armor.js';

/** A request id as the server makes one up (X-Request-Id): a random UUID. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function pushKeys(baseUrl: string, keytext: string | Uint8Array, options: { mr?: boolean } = {}) {
  const armored = typeof keytext === 'string';
  const res = await fetch(`${baseUrl}/pks/add${options.mr === false ? '' : '?options=mr'}`, {
    method: 'POST',
    headers: { 'content-type': armored ? 'application/x-www-form-urlencoded' : 'application/pgp-keys' },
    body: typeof keytext === 'string' ? new URLSearchParams({ keytext }).toString() : new Uint8Array(keytext),
  });
  const text = await res.text();
  return { status: res.status, text, json: safeJson(text) };
}

export interface TextResponse {
  status: number;
  type: string | null;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
  headers: Headers;
}

/** fetch, with the body read as text and, when it is JSON, parsed. */
export async function fetchText(url: string, init?: RequestInit): Promise<TextResponse> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), text, json: safeJson(text), headers: res.headers };
}

/** The path and query of a GET /pks/lookup with these parameters. */
export function lookupPath(params: Record<string, string>): string {
  return `/pks/lookup?${new URLSearchParams(params)}`;
}

export async function lookup(baseUrl: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return fetchText(`${baseUrl}${lookupPath(params)}`, { headers });
}

/** Packets of an armored get response, for comparing keys packet by packet. */
export function armoredPackets(text: string): Packet[] {
  const decoded = decodeArmor(text);
  if (decoded.blocks.length !== 1) throw new Error(`expected one armor block, got ${decoded.blocks.length}`);
  return readPackets(decoded.blocks[0]!.data);
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
