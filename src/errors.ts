// The one error type: an HTTP status, a stable machine code and a message safe to show to clients.
export type ErrorCode =
  | 'bad_request'
  | 'no_key_data'
  | 'invalid_search'
  | 'not_found'
  | 'too_large'
  | 'unusable_key'
  | 'unsupported_op'
  | 'unsupported_media_type'
  | 'unavailable'
  | 'identity_provider_unavailable'
  | 'rate_limited'
  | 'unauthorized'
  | 'invalid_token'
  | 'key_not_owned'
  | 'internal';

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** Extra JSON fields sent beside the error (e.g. rejected keys). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
