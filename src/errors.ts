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
  | 'method_not_allowed'
  | 'unavailable'
  | 'identity_provider_unavailable'
  | 'rate_limited'
  | 'unauthorized'
  | 'invalid_token'
  | 'key_not_owned'
  | 'internal';

export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  /** Extra JSON fields sent beside the error (e.g. rejected keys). */
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, code: ErrorCode, message: string, details?: Record<string, unknown>) {
    // A client's error (4xx) is answered, never logged with a stack: capturing one would cost more than the whole
    // answer of a request refused by the rate limit, the path that must stay cheapest under a flood.
    const stackTraceLimit = Error.stackTraceLimit;
    if (status < 500) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.status = status;
    this.code = code;
    this.details = details;
  }
}
