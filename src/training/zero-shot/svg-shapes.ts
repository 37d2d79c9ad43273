// An independent renderer of coloured shapes, for evaluation only: each scene is an SVG document
// with its own random style, rasterised by librsvg (through sharp) and encoded as PNG or JPEG,
// the way a person's own drawing reaches the server. It shares no drawing code with the training
// renderers (shapes.ts, varied-shapes.ts): its own colour palette (CSS colour names and hex
// values per colour word), its own geometry (SVG circle / rect / polygon / path elements, with
// rounded corners and other triangle proportions), its own backgrounds (plain, linear and radial
// gradients, feTurbulence noise), anti-aliasing on or off (shape-rendering), outlines, and image
// sizes. Only the label sets (colour and shape words, the held-out pairs) come from shapes.ts.
// Random numbers: the project's seeded uniform stream, key "svg-shapes"; the same seed gives the
// same SVG text, and the same bytes for a given sharp / librsvg build.
import sharp from 'sharp';
import { uniformStream } from '../common/random.ts';
import { pick, splitPairs, type Colour, type Shape, type Split } from './shapes.ts';

/** Per colour word, the fills this renderer picks from: CSS names and hex values a person would use for it. */
export const SVG_PALETTE: Record<Colour, readonly string[]> = {
  red: ['red', '#e00000', 'crimson', 'firebrick', '#e53935', '#c62828', '#ff2a2a', 'tomato'],
  green: ['green', 'limegreen', 'forestgreen', '#2e7d32', 'seagreen', '#4caf50', 'lime', '#1b9e3e'],
  blue: ['blue', 'royalblue', '#1e40af', 'mediumblue', '#2962ff', '#3b5bdb', 'navy', '#1565c0'],
  yellow: ['yellow', 'gold', '#fdd835', '#ffeb3b', '#f5d000', '#ffe000', '#fff200', '#f9e11e'],
  purple: ['purple', 'darkviolet', '#8e24aa', 'rebeccapurple', 'mediumorchid', '#7b1fa2', 'darkorchid', '#9c27b0'],
  orange: ['orange', 'darkorange', '#ff8c00', '#fb8c00', '#f57c00', '#ff9800', '#ff7f00', '#ef6c00'],
  cyan: ['cyan', 'aqua', 'darkturquoise', '#00bcd4', '#00e5ff', '#26c6da', '#00d0e0', '#18ffff'],
};

/** Plain backgrounds: near-white paper, near-black, greys, a few pale tints. */
const PLAIN_BACKGROUNDS = ['white', '#fafafa', 'ivory', 'whitesmoke', 'black', '#1e1e1e', 'gray', 'darkgray', 'lightgray', 'gainsboro', 'silver', '#3c3c3c', 'linen', 'aliceblue', 'honeydew'];
const OUTLINES = ['black', 'white', '#333333', 'dimgray', '#111111', '#eeeeee'];

export type SvgBackground = 'plain' | 'linear-gradient' | 'radial-gradient' | 'noise';

export interface SvgScene {
  colour: Colour;
  shape: Shape;
  fill: string;
  /** Canvas width = height in pixels. */
  canvas: number;
  /** The shape's extent (diameter, side, height) over the canvas side. */
  extent: number;
  /** Centre in canvas pixels. */
  cx: number;
  cy: number;
  rotation: number;
  background: SvgBackground;
  outline?: { colour: string; width: number };
  antialias: boolean;
  format: 'png' | 'jpeg';
  /** JPEG quality (format jpeg). */
  quality?: number;
}

export interface SvgShapes {
  /** Encoded images (PNG or JPEG bytes), one per scene. */
  images: Buffer[];
  scenes: SvgScene[];
}

type Uniform = () => number;

function between(lo: number, hi: number, u: Uniform): number {
  return lo + (hi - lo) * u();
}

function grey(level: number): string {
  const v = Math.round(255 * level);
  return `rgb(${v},${v},${v})`;
}

/** The background elements (defs and a full-canvas rect) of one scene. */
function backgroundSvg(kind: SvgBackground, n: number, u: Uniform): string {
  switch (kind) {
    case 'plain':
      return `<rect width="${n}" height="${n}" fill="${pick(PLAIN_BACKGROUNDS, u)}"/>`;
    case 'linear-gradient': {
      const a = between(0, 2 * Math.PI, u);
      const [x1, y1, x2, y2] = [0.5 - 0.5 * Math.cos(a), 0.5 - 0.5 * Math.sin(a), 0.5 + 0.5 * Math.cos(a), 0.5 + 0.5 * Math.sin(a)];
      return `<defs><linearGradient id="bg" x1="${x1.toFixed(3)}" y1="${y1.toFixed(3)}" x2="${x2.toFixed(3)}" y2="${y2.toFixed(3)}"><stop offset="0" stop-color="${grey(u())}"/><stop offset="1" stop-color="${grey(u())}"/></linearGradient></defs><rect width="${n}" height="${n}" fill="url(#bg)"/>`;
    }
    case 'radial-gradient':
      return `<defs><radialGradient id="bg" cx="${between(0.2, 0.8, u).toFixed(3)}" cy="${between(0.2, 0.8, u).toFixed(3)}" r="${between(0.5, 1, u).toFixed(3)}"><stop offset="0" stop-color="${grey(u())}"/><stop offset="1" stop-color="${grey(u())}"/></radialGradient></defs><rect width="${n}" height="${n}" fill="url(#bg)"/>`;
    case 'noise': {
      // Fractal noise turned grey (equal RGB weights of its red channel) and laid over a plain grey.
      const base = between(0.15, 0.85, u);
      const strength = between(0.15, 0.45, u);
      return (
        `<defs><filter id="bg" x="0" y="0" width="100%" height="100%"><feTurbulence type="fractalNoise" baseFrequency="${between(0.02, 0.3, u).toFixed(3)}" numOctaves="2" seed="${Math.floor(u() * 1000)}"/>` +
        `<feColorMatrix type="matrix" values="1 0 0 0 0  1 0 0 0 0  1 0 0 0 0  0 0 0 0 ${strength.toFixed(3)}"/></filter></defs>` +
        `<rect width="${n}" height="${n}" fill="${grey(base)}"/><rect width="${n}" height="${n}" filter="url(#bg)"/>`
      );
    }
  }
}

/** The shape element, centred at (cx, cy) with extent e pixels, rotated by `rotation` degrees. */
function shapeSvg(shape: Shape, cx: number, cy: number, e: number, rotation: number, paint: string, u: Uniform): string {
  const h = e / 2;
  const transform = `transform="rotate(${rotation.toFixed(1)} ${cx.toFixed(2)} ${cy.toFixed(2)})"`;
  const pts = (list: [number, number][]) => list.map(([x, y]) => `${(cx + x).toFixed(2)},${(cy + y).toFixed(2)}`).join(' ');
  switch (shape) {
    case 'circle':
      return `<circle cx="${cx.toFixed(2)}" cy="${cy.toFixed(2)}" r="${h.toFixed(2)}" ${paint}/>`;
    case 'square': {
      const rx = e * between(0, 0.08, u);
      return `<rect x="${(cx - h).toFixed(2)}" y="${(cy - h).toFixed(2)}" width="${e.toFixed(2)}" height="${e.toFixed(2)}" rx="${rx.toFixed(2)}" ${paint} ${transform}/>`;
    }
    case 'triangle': {
      // Isosceles, apex up before the rotation: base e wide, height between 0.8 e and e.
      const height = e * between(0.8, 1, u);
      return `<polygon points="${pts([[0, -height / 2], [h, height / 2], [-h, height / 2]])}" ${paint} ${transform}/>`;
    }
    case 'cross': {
      const t = (e * between(0.26, 0.42, u)) / 2; // half the arm thickness
      const [x, y] = [(v: number) => (cx + v).toFixed(2), (v: number) => (cy + v).toFixed(2)];
      const d = `M${x(-t)},${y(-h)}H${x(t)}V${y(-t)}H${x(h)}V${y(t)}H${x(t)}V${y(h)}H${x(-t)}V${y(t)}H${x(-h)}V${y(-t)}H${x(-t)}Z`;
      return `<path d="${d}" ${paint} ${transform}/>`;
    }
  }
}

/** One scene's SVG document and its description. */
export function svgScene(colour: Colour, shape: Shape, u: Uniform): { svg: string; scene: SvgScene } {
  const canvas = Math.round(between(40, 256, u));
  const extent = between(0.2, 0.85, u);
  const e = extent * canvas;
  // The centre keeps the whole shape (its circumscribed circle for rotated shapes) on the canvas.
  const margin = Math.min(canvas / 2, (e / 2) * (shape === 'circle' ? 1 : 1.3));
  const cx = between(margin, canvas - margin, u);
  const cy = between(margin, canvas - margin, u);
  const rotation = shape === 'circle' ? 0 : between(0, 360, u);
  const background = pick(['plain', 'plain', 'linear-gradient', 'radial-gradient', 'noise'] as const, u);
  const fill = pick(SVG_PALETTE[colour], u);
  const outline = u() < 0.4 ? { colour: pick(OUTLINES, u), width: Math.max(1, Math.round(canvas * between(0.01, 0.04, u))) } : undefined;
  const paint = `fill="${fill}"${outline ? ` stroke="${outline.colour}" stroke-width="${outline.width}" stroke-linejoin="miter"` : ''}`;
  const antialias = u() >= 0.3;
  const format = u() < 0.4 ? 'jpeg' : 'png';
  const quality = format === 'jpeg' ? Math.round(between(50, 95, u)) : undefined;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${canvas}" height="${canvas}" viewBox="0 0 ${canvas} ${canvas}" shape-rendering="${antialias ? 'geometricPrecision' : 'crispEdges'}">` +
    backgroundSvg(background, canvas, u) +
    shapeSvg(shape, cx, cy, e, rotation, paint, u) +
    '</svg>';
  return { svg, scene: { colour, shape, fill, canvas, extent, cx, cy, rotation, background, outline, antialias, format, quality } };
}

/** An SVG document rasterised by librsvg and encoded as the scene says. */
export async function rasteriseSvg(svg: string, scene: Pick<SvgScene, 'format' | 'quality'>): Promise<Buffer> {
  const image = sharp(Buffer.from(svg)).removeAlpha();
  return scene.format === 'jpeg' ? image.jpeg({ quality: scene.quality }).toBuffer() : image.png().toBuffer();
}

/** count independent scenes of the split's colour–shape pairs, deterministic for seed. */
export async function renderSvgShapes(count: number, seed: number, split: Split): Promise<SvgShapes> {
  const u = uniformStream(seed, 'svg-shapes');
  const pairs = splitPairs(split);
  const documents = Array.from({ length: count }, () => {
    const [colour, shape] = pick(pairs, u);
    return svgScene(colour, shape, u);
  });
  const images = await Promise.all(documents.map(({ svg, scene }) => rasteriseSvg(svg, scene)));
  return { images, scenes: documents.map((d) => d.scene) };
}
