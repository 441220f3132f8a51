// A hand-built SVG bar chart: for every metric, each server's speed-up relative to a reference
// server on a log2 axis centred on 1× (bars to the right are better, to the left worse).
import { type Column, type Row, speedup } from './report.js';

const COLORS = ['#d62728', '#1f77b4', '#6baed6', '#9467bd', '#ff7f0e', '#7f7f7f', '#2ca02c', '#8c564b'];

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function ratioChart(
  rows: readonly Row[],
  columns: readonly Column[],
  reference: string,
  title: string,
): string {
  const width = 960;
  const labelWidth = 290;
  const plotLeft = labelWidth + 10;
  const plotWidth = width - plotLeft - 70;
  const bar = 9;
  const gap = 12;
  const top = 70;
  const maxLog = 4; // 1/16× .. 16×
  const x = (ratio: number) => {
    const l = Math.max(-maxLog, Math.min(maxLog, Math.log2(ratio)));
    return plotLeft + ((l + maxLog) / (2 * maxLog)) * plotWidth;
  };
  const groups = rows.map((r) => ({
    row: r,
    bars: columns.filter((c) => r.cells[c.name]?.median !== undefined),
  }));
  const height = top + groups.reduce((h, g) => h + Math.max(1, g.bars.length) * bar + gap, 0) + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${xml(title)}</text>`,
  ];
  columns.forEach((c, i) => {
    const lx = plotLeft + (i % 6) * 105;
    const ly = 36 + Math.floor(i / 6) * 14;
    out.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly}">${xml(c.label)}</text>`);
  });
  const bottom = height - 30;
  for (let l = -maxLog; l <= maxLog; l++) {
    const gx = x(2 ** l);
    out.push(
      `<line x1="${gx}" y1="${top - 8}" x2="${gx}" y2="${bottom}" stroke="${l === 0 ? '#000' : '#ddd'}" stroke-width="${l === 0 ? 1.5 : 1}"/>`,
    );
    const label = l >= 0 ? `${2 ** l}×` : `1/${2 ** -l}×`;
    out.push(`<text x="${gx}" y="${bottom + 14}" text-anchor="middle" fill="#555">${label}</text>`);
  }
  let y = top;
  for (const g of groups) {
    const h = Math.max(1, g.bars.length) * bar;
    out.push(
      `<text x="${labelWidth}" y="${y + h / 2 + 4}" text-anchor="end">${xml(`${g.row.metric.label} (${g.row.metric.unit})`)}</text>`,
    );
    g.bars.forEach((c, i) => {
      const s = speedup(g.row.metric, g.row.cells[c.name]?.median, g.row.cells[reference]?.median);
      if (s === undefined) return;
      const x0 = x(1);
      const x1 = x(s);
      const color = COLORS[columns.indexOf(c) % COLORS.length];
      const by = y + i * bar;
      out.push(
        `<rect x="${Math.min(x0, x1).toFixed(1)}" y="${by + 1}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${bar - 2}" fill="${color}"><title>${xml(`${c.label}: ${s.toFixed(2)}×`)}</title></rect>`,
      );
      out.push(
        `<text x="${(Math.max(x0, x1) + 3).toFixed(1)}" y="${by + bar - 1}" font-size="8" fill="#333">${s.toFixed(2)}</text>`,
      );
    });
    y += h + gap;
  }
  out.push(
    `<text x="${plotLeft + plotWidth / 2}" y="${height - 4}" text-anchor="middle" fill="#555">speed-up relative to ${xml(columns.find((c) => c.name === reference)?.label ?? reference)} (log scale; right is better)</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
