import { EventEmitter } from 'node:events';

/** A WHATWG-style event passed to `addEventListener` listeners and `on*` handlers. */
export interface WebSocketEvent {
  readonly type: string;
  readonly target: unknown;
}
export interface MessageEventLike extends WebSocketEvent {
  /** A string for text messages; for binary ones, what `binaryType` says. */
  readonly data: unknown;
}
export interface CloseEventLike extends WebSocketEvent {
  readonly code: number;
  readonly reason: string;
  /** Whether the closing handshake completed (both close frames were exchanged). */
  readonly wasClean: boolean;
}
export interface ErrorEventLike extends WebSocketEvent {
  readonly error: unknown;
  readonly message: string;
}

type Handler = (event: never) => void;
type ListenerOptions = { once?: boolean } | boolean;
const kWrapped = Symbol('ieum.wrappedListener');
/** The events of the WHATWG WebSocket interface. */
const EVENT_TYPES: ReadonlySet<string> = new Set(['open', 'message', 'close', 'error']);
const kAttribute = Symbol('ieum.attributeHandler');

interface WrappedListener {
  (...args: unknown[]): void;
  [kWrapped]: unknown;
  [kAttribute]?: boolean;
}

/**
 * An EventEmitter that also offers the WHATWG EventTarget surface used by browser code
 * (`addEventListener`, `removeEventListener`, `onopen`/`onmessage`/`onclose`/`onerror`).
 * Subclasses implement `toEvent` to turn emitter arguments into event objects.
 */
export abstract class DualEventTarget extends EventEmitter {
  protected abstract toEvent(type: string, args: unknown[]): WebSocketEvent | undefined;

  addEventListener(
    type: 'message',
    listener: (event: MessageEventLike) => void,
    options?: ListenerOptions,
  ): void;
  addEventListener(type: 'close', listener: (event: CloseEventLike) => void, options?: ListenerOptions): void;
  addEventListener(type: 'error', listener: (event: ErrorEventLike) => void, options?: ListenerOptions): void;
  addEventListener(type: 'open', listener: (event: WebSocketEvent) => void, options?: ListenerOptions): void;
  addEventListener(
    type: string,
    listener: Handler | { handleEvent: Handler },
    options?: ListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: Handler | { handleEvent: Handler },
    options?: ListenerOptions,
  ): void {
    if (typeof listener !== 'function' && typeof listener?.handleEvent !== 'function') return;
    // Only the WebSocket interface's events can be listened to (as in ws): a listener for any
    // other type could never be called, so none is registered.
    if (!EVENT_TYPES.has(type)) return;
    // Like EventTarget, adding the same listener twice has no effect.
    for (const l of this.listeners(type) as WrappedListener[]) {
      if (l[kWrapped] === listener && !l[kAttribute]) return;
    }
    const once = typeof options === 'object' && options.once === true;
    const wrapped = this.wrap(type, listener, false);
    if (once) this.once(type, wrapped);
    else this.on(type, wrapped);
  }

  removeEventListener(type: string, listener: unknown): void {
    for (const l of this.listeners(type) as WrappedListener[]) {
      if (l[kWrapped] === listener && !l[kAttribute]) {
        this.removeListener(type, l);
        return;
      }
    }
  }

  private wrap(
    type: string,
    listener: Handler | { handleEvent: Handler },
    attribute: boolean,
  ): WrappedListener {
    const wrapped = ((...args: unknown[]) => {
      const event = this.toEvent(type, args);
      if (!event) return;
      if (typeof listener === 'function') listener.call(this, event as never);
      else listener.handleEvent(event as never);
    }) as WrappedListener;
    wrapped[kWrapped] = listener;
    if (attribute) wrapped[kAttribute] = true;
    return wrapped;
  }

  protected getAttributeHandler(type: string): Handler | null {
    for (const l of this.listeners(type) as WrappedListener[]) {
      if (l[kAttribute]) return l[kWrapped] as Handler;
    }
    return null;
  }

  protected setAttributeHandler(type: string, handler: unknown): void {
    for (const l of this.listeners(type) as WrappedListener[]) {
      if (l[kAttribute]) this.removeListener(type, l);
    }
    if (typeof handler === 'function') this.on(type, this.wrap(type, handler as Handler, true));
  }

  get onopen(): Handler | null {
    return this.getAttributeHandler('open');
  }
  set onopen(handler: ((event: WebSocketEvent) => void) | null) {
    this.setAttributeHandler('open', handler);
  }
  get onmessage(): Handler | null {
    return this.getAttributeHandler('message');
  }
  set onmessage(handler: ((event: MessageEventLike) => void) | null) {
    this.setAttributeHandler('message', handler);
  }
  get onclose(): Handler | null {
    return this.getAttributeHandler('close');
  }
  set onclose(handler: ((event: CloseEventLike) => void) | null) {
    this.setAttributeHandler('close', handler);
  }
  get onerror(): Handler | null {
    return this.getAttributeHandler('error');
  }
  set onerror(handler: ((event: ErrorEventLike) => void) | null) {
    this.setAttributeHandler('error', handler);
  }
}
