// A ready JWT authenticator on `jose`: verifies signature, expiry (required by default), issuer,
// audience and required claims, and tells the server when the token expires so it can ask the
// client for a fresh one.
import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Authenticate, AuthResult } from './hooks.js';

export interface JwtOptions {
  /** HMAC secret (HS256/384/512), or a key from `jose` (`importSPKI`, `createLocalJWKSet`, ...). */
  secret?: string | Uint8Array | KeyObject | JWTVerifyGetKey;
  /** URL of a JWKS endpoint (keys fetched and cached by jose). */
  jwksUrl?: string | URL;
  issuer?: string | string[];
  audience?: string | string[];
  /** Accepted algorithms. Default: what the key allows (jose's default). */
  algorithms?: string[];
  /** Claim naming the user. Default `sub`. */
  userClaim?: string;
  /** Seconds of clock skew tolerated. Default 5. */
  clockToleranceSeconds?: number;
  /** Maps the verified payload to the user's info shared in presence. Default: none. */
  info?: (payload: JWTPayload) => unknown;
  /**
   * Whether a token must carry `exp`. Default `true`: a token without `exp` would never expire, so
   * it is refused (close 4401). Set `false` only when another mechanism revokes sessions.
   */
  requireExpiry?: boolean;
  /**
   * Claims every token must carry (e.g. `['iat', 'jti']`); a token missing one is refused (close
   * 4401). `exp` is added unless `requireExpiry` is `false`. Default: none besides `exp`.
   */
  requiredClaims?: readonly string[];
}

/**
 * `authenticate` hook verifying a JWT taken from the client's hello message, the
 * `Authorization: Bearer` header, or the `token` query parameter (in that order).
 */
export function jwtAuthenticator(options: JwtOptions): Authenticate {
  const { secret, jwksUrl } = options;
  if ((secret === undefined) === (jwksUrl === undefined)) {
    throw new TypeError('jwtAuthenticator: give exactly one of `secret` or `jwksUrl`');
  }
  const key =
    jwksUrl !== undefined
      ? createRemoteJWKSet(new URL(jwksUrl))
      : typeof secret === 'string'
        ? new TextEncoder().encode(secret)
        : secret!;
  const userClaim = options.userClaim ?? 'sub';
  const requiredClaims = [
    ...new Set([...(options.requiredClaims ?? []), ...(options.requireExpiry === false ? [] : ['exp'])]),
  ];
  return async ({ token }): Promise<AuthResult> => {
    if (!token) throw new Error('a token is required');
    const verifyOptions = {
      ...(options.issuer ? { issuer: options.issuer } : {}),
      ...(options.audience ? { audience: options.audience } : {}),
      ...(options.algorithms ? { algorithms: options.algorithms } : {}),
      clockTolerance: options.clockToleranceSeconds ?? 5,
      ...(requiredClaims.length > 0 ? { requiredClaims } : {}),
    };
    const { payload } =
      typeof key === 'function'
        ? await jwtVerify(token, key, verifyOptions)
        : await jwtVerify(token, key, verifyOptions);
    const user = payload[userClaim];
    if (typeof user !== 'string' || user === '') throw new Error(`the token has no "${userClaim}" claim`);
    const result: AuthResult = { user };
    if (typeof payload.exp === 'number') result.expiresAt = payload.exp * 1000;
    const info = options.info?.(payload);
    if (info !== undefined) result.info = info;
    return result;
  };
}
