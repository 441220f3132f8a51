/**
 * A mistake the person running `ieum` can fix (bad URL, refused connection, unreadable TLS file):
 * printed as `ieum: message` without a stack trace, exit status `exitCode` (default 1).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running on that port?)',
  ECONNRESET: 'connection reset by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporary DNS failure)',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRINUSE: 'address already in use (pick another --port)',
  EACCES: 'permission denied',
  DEPTH_ZERO_SELF_SIGNED_CERT:
    'the server certificate is self-signed (pass --ca FILE, or --insecure to skip verification)',
  SELF_SIGNED_CERT_IN_CHAIN: 'a self-signed certificate is in the chain (pass --ca FILE, or --insecure)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    'the server certificate cannot be verified (pass --ca FILE, or --insecure)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not name this host',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
};

/** Turns a connection error into a sentence for a person: what failed, where, and what to try. */
export function describeConnectError(error: unknown, target: string): string {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const known = code !== undefined ? NETWORK_CODES[code] : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return `cannot connect to ${target}: ${known ?? message}`;
}
