// Who a session's client is: the token (from the hello, an `auth` message, the Authorization
// header or the `token` query parameter) checked by the `authenticate` hook, the user id and
// presence info it returned, and the token's expiry (a `refresh` asked for ahead of it, close
// 4401 at it).
import type { IncomingMessage } from 'node:http';
import { DisconnectCode } from '../codec/disconnect-codes.js';
import { isName, MAX_NAME_LENGTH, type ServerMessage } from '../codec/messages.js';
import { checkPayload } from '../codec/payload-limits.js';
import { requestUrl } from '../transports/request-url.js';
import type { AuthResult } from './hooks.js';
import type { ReportError, SessionOptions } from './session-deps.js';

/** What authentication needs from its session. */
export interface AuthHost {
  /** Whether the session is closing: a late hook result is ignored. */
  closing(): boolean;
  fail(code: number, reason: string): void;
  send(message: ServerMessage): void;
  /** The user the session is authenticated as so far (a refreshed token must name the same). */
  user(): string | undefined;
  /** The hook accepted the token: the session is `user`, with presence `info`, from now on. */
  identify(user: string, info: unknown): void;
}

export class SessionAuth {
  private expiryTimers: NodeJS.Timeout[] = [];

  constructor(
    private readonly options: Pick<
      SessionOptions<unknown>,
      'authenticate' | 'payload' | 'tokenRefreshLeadMs'
    >,
    private readonly req: IncomingMessage,
    private readonly host: AuthHost,
    private readonly reportError: ReportError,
  ) {}

  /** The token of the upgrade request: `Authorization: Bearer …`, else the `token` query parameter. */
  tokenFromRequest(): string | undefined {
    const header = this.req.headers.authorization;
    if (header?.startsWith('Bearer ')) return header.slice(7).trim();
    return requestUrl(this.req)?.searchParams.get('token') ?? undefined;
  }

  /**
   * Runs the `authenticate` hook on `token` and schedules the token's expiry. Returns who the
   * client is (`{ user: undefined }` without a hook), or undefined after closing the session
   * (4401 refused, 4403 another user) or once it is closing.
   */
  async authenticate(
    token: string | undefined,
  ): Promise<AuthResult | { user: undefined; info?: undefined } | undefined> {
    const hook = this.options.authenticate;
    if (!hook) return { user: undefined };
    let result: AuthResult;
    try {
      result = await hook({ token, req: this.req });
      if (this.host.closing()) return undefined;
      // The user id becomes a storage key (presence, deduplication): a lone surrogate or a NUL
      // could merge two users, and its length is paid in every key.
      if (!result || !isName(result.user)) {
        throw new Error(
          `authenticate must return { user: a non-empty, well-formed string without NUL, at most ${MAX_NAME_LENGTH} characters }`,
        );
      }
      // `info` is stored with presence and sent to every member: the checks of a publish apply.
      if (result.info !== undefined) {
        const check = checkPayload(result.info, this.options.payload);
        if (!check.ok) {
          this.reportError(new Error(`authenticate returned presence info refused: ${check.message}`));
          throw new Error(`presence info refused (${check.code})`);
        }
      }
    } catch (error) {
      this.host.fail(DisconnectCode.UNAUTHORIZED, (error as Error).message || 'unauthorized');
      return undefined;
    }
    const user = this.host.user();
    if (user !== undefined && result.user !== user) {
      this.host.fail(DisconnectCode.FORBIDDEN, 'a refreshed token must name the same user');
      return undefined;
    }
    this.host.identify(result.user, result.info);
    this.scheduleExpiry(result.expiresAt);
    return result;
  }

  private scheduleExpiry(expiresAt: number | undefined): void {
    this.release();
    if (expiresAt === undefined) return;
    const left = expiresAt - Date.now();
    if (left <= 0) {
      this.host.fail(DisconnectCode.TOKEN_EXPIRED, 'token expired');
      return;
    }
    const lead = this.options.tokenRefreshLeadMs;
    this.expiryTimers.push(setTimeout(() => this.host.send({ t: 'refresh' }), Math.max(0, left - lead)));
    this.expiryTimers.push(
      setTimeout(() => this.host.fail(DisconnectCode.TOKEN_EXPIRED, 'token expired'), left),
    );
  }

  /** Stops the expiry timers (the session is closing, or a new token replaces them). */
  release(): void {
    for (const t of this.expiryTimers) clearTimeout(t);
    this.expiryTimers = [];
  }
}
