// Turns measurements into medians, ratio tables (markdown), performance.json and the chart.
import type { GeneratorResult } from './generator.js';
import type { Metric, ScenarioInfo } from './scenarios.js';
import type { ServerSpec } from './servers.js';

export interface Measurement {
  scenario: string;
  /** Column: the server's name (deflate variants keep the name of the server they configure). */
  server: string;
  deflate?: string;
  rep: number;
  values?: Record<string, number>;
  error?: string;
  reports: GeneratorResult[];
  /** CPU used by other processes meanwhile, in cores (the machine is shared). */
  foreignCpu?: number;
  /** Runs made for this cell (more than 1 when other processes disturbed the first). */
  attempts?: number;
}

/** A cell whose generator used at least this share of its core may be limited by the generator. */
export const GENERATOR_BOUND = 0.85;

function generatorCpu(m: Measurement): number | undefined {
  const loads = m.reports.filter((r) => r.mode !== 'hold').map((r) => r.generator_cpu ?? 0);
  return loads.length ? Math.max(...loads) : undefined;
}

export interface Cell {
  median: number | undefined;
  values: number[];
  errors: string[];
  /** The generator's CPU share in each repetition (see GENERATOR_BOUND). */
  generatorCpu: number[];
}

export interface Row {
  scenario: string;
  metric: Metric;
  cells: Record<string, Cell>;
}

export interface Column {
  name: string;
  label: string;
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function buildRows(scenarios: readonly ScenarioInfo[], measurements: readonly Measurement[]): Row[] {
  const rows: Row[] = [];
  for (const scenario of scenarios) {
    const mine = measurements.filter((m) => m.scenario === scenario.id);
    if (mine.length === 0) continue;
    for (const metric of scenario.metrics) {
      const cells: Record<string, Cell> = {};
      for (const m of mine) {
        const cell = cells[m.server] ?? { median: undefined, values: [], errors: [], generatorCpu: [] };
        cells[m.server] = cell;
        const v = m.values?.[metric.id];
        if (v !== undefined && Number.isFinite(v)) {
          cell.values.push(v);
          const cpu = generatorCpu(m);
          if (cpu !== undefined) cell.generatorCpu.push(cpu);
        }
        if (m.error) cell.errors.push(m.error);
      }
      for (const cell of Object.values(cells)) cell.median = median(cell.values);
      rows.push({ scenario: scenario.id, metric, cells });
    }
  }
  return rows;
}

/** How many times better `value` is than `reference` (> 1: better), whichever way the metric goes. */
export function speedup(
  metric: Metric,
  value: number | undefined,
  reference: number | undefined,
): number | undefined {
  if (value === undefined || reference === undefined || value <= 0 || reference <= 0) return undefined;
  return metric.better === 'higher' ? value / reference : reference / value;
}

export function formatNumber(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 100) return Math.round(v).toLocaleString('en');
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function generatorBound(cell: Cell | undefined): boolean {
  const cpu = cell ? median(cell.generatorCpu) : undefined;
  return cpu !== undefined && cpu >= GENERATOR_BOUND;
}

function formatCell(cell: Cell | undefined): string {
  if (!cell) return '–';
  if (cell.median === undefined) return cell.errors.length ? 'error' : '–';
  return `${formatNumber(cell.median)}${generatorBound(cell) ? ' †' : ''}`;
}

function table(header: string[], lines: string[][]): string {
  const out = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const line of lines) out.push(`| ${line.join(' | ')} |`);
  return out.join('\n');
}

export function mediansTable(rows: readonly Row[], columns: readonly Column[]): string {
  return table(
    ['Scenario', 'Unit', ...columns.map((c) => c.label)],
    rows.map((r) => [
      r.metric.label,
      `${r.metric.unit} (${r.metric.better === 'higher' ? '↑' : '↓'})`,
      ...columns.map((c) => formatCell(r.cells[c.name])),
    ]),
  );
}

/** Every column relative to `reference` (speed-ups: > 1 is better than the reference). */
export function ratioTable(rows: readonly Row[], columns: readonly Column[], reference: string): string {
  return table(
    ['Scenario', ...columns.map((c) => c.label)],
    rows.map((r) => [
      r.metric.label,
      ...columns.map((c) => {
        const s = speedup(r.metric, r.cells[c.name]?.median, r.cells[reference]?.median);
        return s === undefined ? '–' : `${s.toFixed(2)}×`;
      }),
    ]),
  );
}

export function errorsList(rows: readonly Row[], columns: readonly Column[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const r of rows) {
    for (const c of columns) {
      for (const e of r.cells[c.name]?.errors ?? []) {
        const line = `${r.scenario} / ${c.label}: ${e}`;
        if (!seen.has(line)) {
          seen.add(line);
          out.push(line);
        }
      }
    }
  }
  return out;
}

export function columnsFor(specs: readonly ServerSpec[]): Column[] {
  return specs.map((s) => ({ name: s.name, label: s.label }));
}
