// FrameTail: one frame inspector subscription. Turns the messages a StatsSource reports into
// short `Frame` previews, at most `maxFramesPerSecond` of them (the rest are counted as skipped),
// so a busy channel cannot flood the dashboard.
import type { Frame } from './sample.js';

/** Limits of the frame inspector. */
export interface InspectorLimits {
  /** Frames sent per tail per second; beyond it frames are skipped and counted. Default 50. */
  maxFramesPerSecond: number;
  /** Characters of a text frame (bytes of a binary one, shown as hex) kept in its preview. Default 512. */
  maxPreviewBytes: number;
  /** Tails one dashboard connection may have open at once (`tail` fails beyond it). Default 4. */
  maxTailsPerConnection: number;
}

export const DEFAULT_INSPECTOR: InspectorLimits = {
  maxFramesPerSecond: 50,
  maxPreviewBytes: 512,
  maxTailsPerConnection: 4,
};

/** A short preview of a message: text as is, binary as hex, cut at `max`. */
export function preview(data: string | Uint8Array, max: number): string {
  if (typeof data === 'string') return data.length > max ? `${data.slice(0, max)}…` : data;
  const hex = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, max)).toString('hex');
  return (hex.match(/../g) ?? []).join(' ') + (data.byteLength > max ? ' …' : '');
}

export class FrameTail {
  private windowStart = 0;
  private inWindow = 0;
  private skipped = 0;

  constructor(
    private readonly limits: InspectorLimits,
    private readonly send: (frame: Frame) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reports one message (called from the server's hot path: cheap when over the limit). */
  push(dir: Frame['dir'], data: string | Uint8Array, binary: boolean): void {
    const at = this.now();
    if (at - this.windowStart >= 1000) {
      this.windowStart = at;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.limits.maxFramesPerSecond) {
      this.skipped++;
      return;
    }
    this.inWindow++;
    const size = typeof data === 'string' ? data.length : data.byteLength;
    this.send({
      at,
      dir,
      size,
      binary,
      preview: preview(data, this.limits.maxPreviewBytes),
      skipped: this.skipped,
    });
    this.skipped = 0;
  }
}
