// Learning curves as a PNG: one panel per group (e.g. noise kind), one line per series (e.g. head
// and mode), value against epoch, on a y axis shared by the panels. Drawn as SVG by hand and
// rasterised with sharp, like the reliability diagrams (reliability.ts): a few polylines do not
// justify a plotting dependency.
import sharp from 'sharp';

export interface CurveSeries {
  label: string;
  /** One value per epoch (epoch 1 first). */
  values: number[];
  /** The panel it is drawn in. */
  group: string;
  dashed?: boolean;
}

const PANEL = { width: 380, height: 300 };
const MARGIN = { left: 60, right: 20, top: 56, bottom: 40 };
const LEGEND_ROW = 18;
const COLOURS = ['#3b6fb6', '#d9534f', '#2e8b57', '#8e44ad', '#e67e22', '#555555'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Tick values: about 5 round steps covering [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(v);
  return out;
}

function curveSvg(series: CurveSeries[], title: string): string {
  const groups = [...new Set(series.map((s) => s.group))];
  // A colour per label, the same in every panel.
  const keys = [...new Set(series.map((s) => s.label))];
  const all = series.flatMap((s) => s.values);
  const pad = (Math.max(...all) - Math.min(...all)) * 0.05 || 0.01;
  const [lo, hi] = [Math.min(...all) - pad, Math.max(...all) + pad];
  const epochs = Math.max(...series.map((s) => s.values.length));
  const panelWidth = MARGIN.left + PANEL.width + MARGIN.right;
  const legendTop = MARGIN.top + PANEL.height + MARGIN.bottom;
  const width = panelWidth * groups.length;
  const height = legendTop + LEGEND_ROW * keys.length + 12;
  const parts: string[] = [`<rect width="${width}" height="${height}" fill="white"/>`];
  parts.push(`<text x="${width / 2}" y="22" font-size="15" text-anchor="middle">${escapeXml(title)}</text>`);
  groups.forEach((group, g) => {
    const left = g * panelWidth + MARGIN.left;
    const x = (epoch: number) => left + (epochs > 1 ? ((epoch - 1) / (epochs - 1)) * PANEL.width : PANEL.width / 2);
    const y = (v: number) => MARGIN.top + ((hi - v) / (hi - lo)) * PANEL.height;
    parts.push(`<rect x="${left}" y="${MARGIN.top}" width="${PANEL.width}" height="${PANEL.height}" fill="none" stroke="#444"/>`);
    parts.push(`<text x="${left + PANEL.width / 2}" y="${MARGIN.top - 8}" font-size="13" text-anchor="middle">${escapeXml(group)}</text>`);
    for (const t of ticks(lo, hi)) {
      parts.push(`<line x1="${left}" y1="${y(t)}" x2="${left + PANEL.width}" y2="${y(t)}" stroke="#ddd"/>`);
      parts.push(`<text x="${left - 6}" y="${y(t) + 4}" font-size="11" text-anchor="end">${t.toFixed(2)}</text>`);
    }
    for (const e of ticks(1, epochs).filter((v) => Number.isInteger(v))) {
      parts.push(`<text x="${x(e)}" y="${MARGIN.top + PANEL.height + 16}" font-size="11" text-anchor="middle">${e}</text>`);
    }
    parts.push(`<text x="${left + PANEL.width / 2}" y="${MARGIN.top + PANEL.height + 32}" font-size="12" text-anchor="middle">epoch</text>`);
    for (const s of series.filter((v) => v.group === group)) {
      const colour = COLOURS[keys.indexOf(s.label) % COLOURS.length];
      const points = s.values.map((v, i) => `${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
    }
  });
  keys.forEach((key, i) => {
    const yy = legendTop + LEGEND_ROW * i + 10;
    const dashed = series.find((s) => s.label === key)?.dashed;
    parts.push(`<line x1="${MARGIN.left}" y1="${yy}" x2="${MARGIN.left + 30}" y2="${yy}" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"${dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
    parts.push(`<text x="${MARGIN.left + 38}" y="${yy + 4}" font-size="12">${escapeXml(key)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif">${parts.join('')}</svg>`;
}

export async function curvePlotPng(series: CurveSeries[], title: string): Promise<Buffer> {
  if (series.length === 0 || series.every((s) => s.values.length === 0)) throw new Error('curve plot: no values');
  return sharp(Buffer.from(curveSvg(series, title))).png({ compressionLevel: 9, palette: true }).toBuffer();
}
