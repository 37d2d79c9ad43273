// Reliability diagram: per confidence bin, the accuracy (bars) against the diagonal of perfect
// calibration, the gap to the bin's mean confidence, and the share of examples per bin below.
// Drawn as SVG by hand (a dozen rectangles do not justify a plotting dependency) and rasterised
// to PNG with sharp (librsvg), which the server already depends on.
import sharp from 'sharp';
import type { Metrics } from './metrics.ts';

const SIZE = 400;
const MARGIN = { left: 56, right: 16, top: 40, bottom: 48 };
const HIST = 70;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function reliabilitySvg(metrics: Metrics, title: string): string {
  const width = MARGIN.left + SIZE + MARGIN.right;
  const height = MARGIN.top + SIZE + 20 + HIST + MARGIN.bottom;
  const x = (v: number) => MARGIN.left + v * SIZE;
  const y = (v: number) => MARGIN.top + (1 - v) * SIZE;
  const histTop = MARGIN.top + SIZE + 20;
  const maxShare = Math.max(...metrics.bins.map((b) => b.count / metrics.count), 1e-9);
  const parts: string[] = [];
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<rect x="${x(0)}" y="${y(1)}" width="${SIZE}" height="${SIZE}" fill="none" stroke="#444"/>`);
  for (const b of metrics.bins) {
    const w = (b.upper - b.lower) * SIZE;
    if (b.count > 0) {
      parts.push(`<rect x="${x(b.lower)}" y="${y(b.accuracy)}" width="${w}" height="${b.accuracy * SIZE}" fill="#3b6fb6" stroke="white"/>`);
      const [lo, hi] = b.accuracy < b.confidence ? [b.accuracy, b.confidence] : [b.confidence, b.accuracy];
      parts.push(`<rect x="${x(b.lower)}" y="${y(hi)}" width="${w}" height="${(hi - lo) * SIZE}" fill="#d9534f" fill-opacity="0.45"/>`);
    }
    const h = ((b.count / metrics.count) / maxShare) * HIST;
    parts.push(`<rect x="${x(b.lower)}" y="${histTop + HIST - h}" width="${w}" height="${h}" fill="#777" stroke="white"/>`);
  }
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#222" stroke-dasharray="5,4"/>`);
  for (let t = 0; t <= 1.0001; t += 0.2) {
    const label = t.toFixed(1);
    parts.push(`<text x="${x(t)}" y="${histTop + HIST + 18}" font-size="12" text-anchor="middle">${label}</text>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${y(t) + 4}" font-size="12" text-anchor="end">${label}</text>`);
  }
  const font = 'font-family="DejaVu Sans, Arial, sans-serif"';
  parts.push(`<text x="${width / 2}" y="24" font-size="15" text-anchor="middle">${escapeXml(title)}</text>`);
  parts.push(`<text x="${x(0) + 8}" y="${y(1) + 20}" font-size="13">ECE ${metrics.ece.toFixed(4)}  acc ${metrics.accuracy.toFixed(4)}</text>`);
  parts.push(`<text x="${width / 2}" y="${height - 10}" font-size="13" text-anchor="middle">confidence (max probability); grey: share of examples</text>`);
  parts.push(`<text x="16" y="${y(0.5)}" font-size="13" text-anchor="middle" transform="rotate(-90 16 ${y(0.5)})">accuracy</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ${font}>${parts.join('')}</svg>`;
}

export async function reliabilityPng(metrics: Metrics, title: string): Promise<Buffer> {
  return sharp(Buffer.from(reliabilitySvg(metrics, title))).png({ compressionLevel: 9, palette: true }).toBuffer();
}
