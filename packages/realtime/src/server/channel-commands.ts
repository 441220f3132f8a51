// A client's channel commands: `sub`, `pub` and `who`, each checked (reserved names, the
// `authorizeChannel` hook, subscription and message-id limits, the rate of new channels, the
// `beforePublish` hook) before it reaches the subscriptions or the hub, and always replied to.
import type { Adapter, PublishResult } from '../adapter/adapter.js';
import { RealtimeError } from '../adapter/realtime-error.js';
import { type ClientMessage, type ErrorBody, ErrorCodes } from '../codec/messages.js';
import { ChannelRate } from './channel-rate.js';
import type { ChannelSubscriptions, Subscriber } from './channel-subscriptions.js';
import type { ReportError, SessionHub, SessionOptions } from './session-deps.js';

type Command<T extends ClientMessage['t']> = Extract<ClientMessage, { t: T }>;

/** What the channel commands need from their session. */
export interface CommandHost {
  /** Whether the session is closing: a publish whose hooks ran meanwhile does not happen. */
  closing(): boolean;
  /** The client id of its hello (stored with its publishes, for deduplication). */
  clientId(): string;
  reply(id: number, data: unknown, err?: ErrorBody): void;
}

export class ChannelCommands<S extends Subscriber> {
  private readonly channelRate: ChannelRate | undefined;

  constructor(
    private readonly session: S,
    private readonly options: Pick<
      SessionOptions<S>,
      | 'authorizeChannel'
      | 'beforePublish'
      | 'maxSubscriptionsPerConnection'
      | 'maxMessageIdLength'
      | 'channelRate'
    >,
    private readonly subscriptions: ChannelSubscriptions<S>,
    private readonly hub: SessionHub<S>,
    private readonly adapter: Pick<Adapter, 'presenceList'>,
    private readonly host: CommandHost,
    private readonly reportError: ReportError,
  ) {
    this.channelRate = options.channelRate
      ? new ChannelRate(options.channelRate, (ch) => subscriptions.has(ch))
      : undefined;
  }

  async subscribe(message: Command<'sub'>): Promise<void> {
    const denied = await this.denied(message.ch, 'subscribe');
    if (denied) return this.host.reply(message.id, undefined, denied);
    const max = this.options.maxSubscriptionsPerConnection;
    if (!this.subscriptions.has(message.ch) && this.subscriptions.size >= max) {
      return this.host.reply(message.id, undefined, {
        code: ErrorCodes.TOO_MANY_SUBSCRIPTIONS,
        message: `at most ${max} subscriptions per connection: unsubscribe first`,
      });
    }
    if (this.channelRate && !this.channelRate.admit(message.ch))
      return this.host.reply(message.id, undefined, newChannelsRefused());
    try {
      await this.subscriptions.subscribe(message.ch, message.since, message.presence ?? false, message.id);
    } catch (error) {
      // An adapter refusing on purpose (e.g. too many channels): the client is told why.
      if (!(error instanceof RealtimeError)) throw error;
      await this.subscriptions.unsubscribe(message.ch);
      return this.host.reply(message.id, undefined, { code: error.code, message: error.message });
    }
  }

  async publish(message: Command<'pub'>): Promise<void> {
    const denied = await this.denied(message.ch, 'publish');
    if (denied) return this.host.reply(message.id, undefined, denied);
    const maxId = this.options.maxMessageIdLength;
    if (message.mid.length > maxId) {
      return this.host.reply(message.id, undefined, {
        code: ErrorCodes.MESSAGE_ID_TOO_LONG,
        message: `pub.mid may be at most ${maxId} characters`,
      });
    }
    if (this.channelRate && !this.channelRate.admit(message.ch))
      return this.host.reply(message.id, undefined, newChannelsRefused());
    let data = message.d;
    const hook = this.options.beforePublish;
    if (hook) {
      try {
        data = await hook({ channel: message.ch, event: message.ev, data, connection: this.session });
      } catch (error) {
        if (!(error instanceof RealtimeError)) this.reportError(error as Error);
        const body =
          error instanceof RealtimeError
            ? { code: error.code, message: error.message }
            : { code: ErrorCodes.HANDLER_ERROR, message: 'beforePublish failed' };
        return this.host.reply(message.id, undefined, body);
      }
    }
    // Closed while the hooks ran (its token expired, say): the publish must not happen.
    if (this.host.closing()) return;
    let r: PublishResult;
    try {
      // The server's one publish path: the payload is checked there, once for every codec.
      r = await this.hub.publish(message.ch, message.ev, data ?? null, {
        mid: `${this.session.user ?? ''}\u0000${this.host.clientId()}\u0000${message.mid}`,
        ...(message.key !== undefined ? { key: message.key } : {}),
      });
    } catch (error) {
      // Refused: a payload past the limits, or an adapter refusing on purpose (e.g. too many
      // channels). The client is told why.
      if (!(error instanceof RealtimeError)) throw error;
      return this.host.reply(message.id, undefined, { code: error.code, message: error.message });
    }
    return this.host.reply(message.id, { ep: r.epoch, off: r.offset, dup: r.duplicate });
  }

  async who(message: Command<'who'>): Promise<void> {
    if (!this.subscriptions.has(message.ch)) {
      return this.host.reply(message.id, undefined, {
        code: ErrorCodes.NOT_SUBSCRIBED,
        message: `subscribe to "${message.ch}" before listing its presence`,
      });
    }
    return this.host.reply(message.id, await this.adapter.presenceList(message.ch));
  }

  private async denied(channel: string, action: 'subscribe' | 'publish'): Promise<ErrorBody | undefined> {
    if (channel.startsWith('$')) {
      return { code: ErrorCodes.FORBIDDEN, message: 'channel names starting with $ are reserved' };
    }
    const authorize = this.options.authorizeChannel;
    if (!authorize) return undefined;
    const s = this.session;
    const ok = await authorize({ channel, action, user: s.user, info: s.info, connection: s });
    return ok ? undefined : { code: ErrorCodes.FORBIDDEN, message: `may not ${action} to "${channel}"` };
  }
}

const newChannelsRefused = (): ErrorBody => ({
  code: ErrorCodes.TOO_MANY_NEW_CHANNELS,
  message: 'new channels used too fast: retry later',
});
