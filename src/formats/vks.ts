// VKS v1 (keys.openpgp.org's Hagrid) answers: the upload/request-verify JSON and the error bodies. Pure.

export interface VksStatusView {
  token: string;
  keyFingerprint: string;
  status: Record<string, string>;
}

/** `{"token", "key_fpr", "status": {"<email>": "published"|...}}` as Hagrid answers upload and request-verify. */
export function formatVksStatus(s: VksStatusView, note?: string): string {
  return JSON.stringify({ token: s.token, key_fpr: s.keyFingerprint, status: s.status, ...(note ? { note } : {}) });
}

/** Hagrid's JSON error body of the POST routes: `{"error": "..."}`. */
export function formatVksError(message: string): string {
  return JSON.stringify({ error: message });
}
