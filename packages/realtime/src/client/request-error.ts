import { type ErrorBody, ErrorCodes } from '../codec/messages.js';

/** A failed request or publish: `code` is one of `ErrorCodes` or an application's code. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The error a `res` packet with `ok: false` stands for. */
export function toRequestError(err: ErrorBody | undefined): RequestError {
  return new RequestError(err?.code ?? ErrorCodes.HANDLER_ERROR, err?.message ?? 'request failed');
}
