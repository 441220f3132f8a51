// A uniform grid over the arena, rebuilt every tick, to find what is near a point without looking
// at every entity (interest management and orb pickups with hundreds of players).

export class SpatialGrid<T extends { x: number; y: number }> {
  private readonly cols: number;
  private readonly rows: number;
  private readonly cells: T[][];

  /** `cellSize` in world units; pick about the size of the queries. */
  constructor(
    width: number,
    height: number,
    private readonly cellSize: number,
  ) {
    this.cols = Math.max(1, Math.ceil(width / cellSize));
    this.rows = Math.max(1, Math.ceil(height / cellSize));
    this.cells = Array.from({ length: this.cols * this.rows }, () => []);
  }

  clear(): void {
    for (const c of this.cells) c.length = 0;
  }

  insert(item: T): void {
    this.cells[this.cell(item.x, item.y)]!.push(item);
  }

  private cell(x: number, y: number): number {
    const cx = Math.min(this.cols - 1, Math.max(0, Math.floor(x / this.cellSize)));
    const cy = Math.min(this.rows - 1, Math.max(0, Math.floor(y / this.cellSize)));
    return cy * this.cols + cx;
  }

  /** Calls `fn` for every item within the box of half-size (`hw`, `hh`) around (`x`, `y`). */
  forEachIn(x: number, y: number, hw: number, hh: number, fn: (item: T) => void): void {
    const x0 = Math.max(0, Math.floor((x - hw) / this.cellSize));
    const x1 = Math.min(this.cols - 1, Math.floor((x + hw) / this.cellSize));
    const y0 = Math.max(0, Math.floor((y - hh) / this.cellSize));
    const y1 = Math.min(this.rows - 1, Math.floor((y + hh) / this.cellSize));
    for (let cy = y0; cy <= y1; cy++) {
      for (let cx = x0; cx <= x1; cx++) {
        for (const item of this.cells[cy * this.cols + cx]!) {
          if (Math.abs(item.x - x) <= hw && Math.abs(item.y - y) <= hh) fn(item);
        }
      }
    }
  }
}
