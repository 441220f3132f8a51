// The client's state kept in a `localStorage`-shaped storage, so a reload resumes where it was:
// client id, message id counter, channel positions and unacknowledged publishes.
import type { Position } from '../codec/messages.js';
import type { StoredPublish } from './outbox.js';

/** `localStorage`-shaped storage for surviving page reloads. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** What is stored under the storage key (JSON). */
export interface PersistedState {
  cid: string;
  seq: number;
  channels: Record<string, Position>;
  outbox: StoredPublish[];
}

/** Default key under which the state is kept. */
export const DEFAULT_STORAGE_KEY = 'ieum-realtime';

/** Reads the state once and writes it batched (at most every 100 ms, and on {@link flush}). */
export class ClientStorage {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly storage: StorageLike,
    private readonly key: string,
    /** Builds the state to write. */
    private readonly snapshot: () => PersistedState,
    private readonly onError: (error: Error) => void,
  ) {}

  /** The stored state, or undefined when there is none (or it is not ours). */
  load(): PersistedState | undefined {
    try {
      const raw = this.storage.getItem(this.key);
      if (!raw) return undefined;
      const p = JSON.parse(raw) as PersistedState;
      if (typeof p.cid !== 'string' || typeof p.seq !== 'number') return undefined;
      return { cid: p.cid, seq: p.seq, channels: p.channels ?? {}, outbox: p.outbox ?? [] };
    } catch (error) {
      this.onError(error as Error);
      return undefined;
    }
  }

  /** Writes soon (batched). */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), 100);
  }

  /** Writes now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.storage.setItem(this.key, JSON.stringify(this.snapshot()));
    } catch (error) {
      this.onError(error as Error);
    }
  }
}
