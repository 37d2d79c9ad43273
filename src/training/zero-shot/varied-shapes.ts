// The training scenes of the zero-shot demo, with varied rendering, so that the model meets
// shapes as other tools draw them: each scene is drawn on a canvas of its own size (24 to 160
// pixels square), the shape's extent from a fifth to nine tenths of the canvas, anywhere on it,
// rotated, with a colour drawn from a range around its colour word (hue, saturation, value),
// anti-aliased or not, with or without an outline, on a plain, gradient or noisy background; the
// canvas is encoded as PNG or as JPEG (quality 40 to 95) and then decoded and resized to 32x32 by
// the server's own preprocessing (src/image/preprocess.ts, the manifest's input spec), so training
// pixels are what a client's upload becomes.
//
// Drawn by a signed distance per pixel (negative inside the shape, in canvas pixels): coverage
// clamp(0.5 - sd, 0, 1) is a one-pixel anti-aliasing ramp, sd <= 0 the aliased edge, and an
// outline of width w is |sd| <= w / 2. Deterministic for a seed (the project's seeded uniform
// stream, key "varied-shapes"); the captions are shapes.ts's grammar.
import sharp from 'sharp';
import type { InputSpec } from '../../format/manifest.ts';
import { preprocessImages } from '../../image/preprocess.ts';
import { uniformStream } from '../common/random.ts';
import { caption, CHANNELS, IMAGE_SIZE, pick, splitPairs, type CaptionWords, type Colour, type Shape, type Split } from './shapes.ts';

/** HSV ranges (hue in degrees, may wrap below 0) of the fills drawn for each colour word. */
export const COLOUR_RANGES: Record<Colour, { hue: [number, number]; saturation: [number, number]; value: [number, number] }> = {
  red: { hue: [-12, 8], saturation: [0.7, 1], value: [0.6, 1] },
  orange: { hue: [24, 36], saturation: [0.8, 1], value: [0.85, 1] },
  yellow: { hue: [48, 60], saturation: [0.7, 1], value: [0.85, 1] },
  green: { hue: [95, 145], saturation: [0.5, 1], value: [0.4, 0.95] },
  cyan: { hue: [180, 192], saturation: [0.6, 1], value: [0.7, 1] },
  blue: { hue: [215, 245], saturation: [0.6, 1], value: [0.45, 1] },
  purple: { hue: [270, 295], saturation: [0.5, 0.95], value: [0.45, 0.9] },
};

export type VariedBackground = 'plain' | 'gradient' | 'noise';

export interface VariedScene {
  colour: Colour;
  shape: Shape;
  /** The fill, RGB in [0, 1]. */
  fill: [number, number, number];
  /** Canvas side in pixels (square). */
  canvas: number;
  /** The shape's extent (diameter, side, height, arm span) over the canvas side. */
  extent: number;
  /** Centre in canvas pixels. */
  cx: number;
  cy: number;
  /** Radians. */
  rotation: number;
  background: VariedBackground;
  outline?: { grey: number; width: number };
  antialias: boolean;
  /** JPEG quality, or absent for PNG. */
  jpegQuality?: number;
}

type Uniform = () => number;

function between(lo: number, hi: number, u: Uniform): number {
  return lo + (hi - lo) * u();
}

/** HSV (hue in degrees) to RGB in [0, 1]. */
export function hsvToRgb(hue: number, s: number, v: number): [number, number, number] {
  const h = (((hue % 360) + 360) % 360) / 60;
  const c = v * s;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const [r, g, b] = h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  const m = v - c;
  return [r + m, g + m, b + m];
}

/** Signed distance to an axis-aligned box of half-sides (ax, ay) centred at the origin. */
function boxDistance(x: number, y: number, ax: number, ay: number): number {
  const qx = Math.abs(x) - ax;
  const qy = Math.abs(y) - ay;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0);
}

/** Signed distance to the triangle (apex (0, -h), base corners (+-w, h)): the distance to the nearest edge, negative inside. */
function triangleDistance(x: number, y: number, w: number, h: number): number {
  const corners = [[0, -h], [w, h], [-w, h]];
  let d = Infinity;
  let inside = true;
  for (let i = 0; i < 3; i++) {
    const [ax, ay] = corners[i];
    const [bx, by] = corners[(i + 1) % 3];
    const [ex, ey] = [bx - ax, by - ay];
    const t = Math.min(1, Math.max(0, ((x - ax) * ex + (y - ay) * ey) / (ex * ex + ey * ey)));
    d = Math.min(d, Math.hypot(x - ax - t * ex, y - ay - t * ey));
    if (ex * (y - ay) - ey * (x - ax) < 0) inside = false; // the corners run clockwise on screen (y down)
  }
  return inside ? -d : d;
}

/** The signed distance function of a scene's shape in the shape's own frame, extent e pixels; shape proportions drawn from u. */
function shapeDistance(shape: Shape, e: number, u: Uniform): (x: number, y: number) => number {
  const h = e / 2;
  switch (shape) {
    case 'circle':
      return (x, y) => Math.hypot(x, y) - h;
    case 'square':
      return (x, y) => boxDistance(x, y, h, h);
    case 'triangle': {
      const height = between(0.8, 1.1, u) * h;
      return (x, y) => triangleDistance(x, y, h, height);
    }
    case 'cross': {
      const t = (between(0.25, 0.45, u) * e) / 2;
      return (x, y) => Math.min(boxDistance(x, y, h, t), boxDistance(x, y, t, h));
    }
  }
}

/** A grey with a faint tint (saturation up to 0.15), so that a background never carries a colour word's hue; value v. */
function tintedGrey(v: number, u: Uniform): [number, number, number] {
  return hsvToRgb(between(0, 360, u), between(0, 0.15, u), v);
}

/** The background's RGB at canvas pixel (x, y), in [0, 1]; a, the plain colour or the gradient's start. */
function backgroundPainter(kind: VariedBackground, a: [number, number, number], n: number, u: Uniform): (x: number, y: number) => [number, number, number] {
  if (kind === 'plain') return () => a;
  const b = tintedGrey(u(), u);
  const angle = between(0, 2 * Math.PI, u);
  const [dx, dy] = [Math.cos(angle) / n, Math.sin(angle) / n];
  const gradient = (x: number, y: number): [number, number, number] => {
    const t = Math.min(1, Math.max(0, 0.5 + (x - n / 2) * dx + (y - n / 2) * dy));
    return [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2])];
  };
  if (kind === 'gradient') return gradient;
  const amplitude = between(0.05, 0.3, u);
  const smooth = u() < 0.5;
  return (x, y) => {
    const base = smooth ? gradient(x, y) : a;
    const noise = amplitude * (2 * u() - 1);
    return [base[0] + noise, base[1] + noise, base[2] + noise];
  };
}

/** The scene's canvas as 8-bit RGB. */
function drawScene(scene: VariedScene, distance: (x: number, y: number) => number, paintBackground: (x: number, y: number) => [number, number, number]): Uint8Array {
  const { canvas: n, cx, cy, rotation, fill, outline, antialias } = scene;
  const [cos, sin] = [Math.cos(rotation), Math.sin(rotation)];
  const halfStroke = outline ? outline.width / 2 : 0;
  const coverage = (sd: number): number => (antialias ? Math.min(1, Math.max(0, 0.5 - sd)) : sd <= 0 ? 1 : 0);
  const rgb = new Uint8Array(n * n * 3);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const [px, py] = [x + 0.5 - cx, y + 0.5 - cy];
      const sd = distance(cos * px + sin * py, -sin * px + cos * py); // the pixel in the shape's frame
      const colour = paintBackground(x, y);
      const f = coverage(sd);
      const s = outline ? coverage(Math.abs(sd) - halfStroke) : 0;
      for (let c = 0; c < 3; c++) {
        const filled = colour[c] + f * (fill[c] - colour[c]);
        const v = outline ? filled + s * (outline.grey - filled) : filled;
        rgb[(y * n + x) * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
    }
  }
  return rgb;
}

/** One scene of the given pair: its description and its encoded image (PNG or JPEG). */
export async function variedScene(colour: Colour, shape: Shape, u: Uniform): Promise<{ scene: VariedScene; image: Buffer; words: CaptionWords }> {
  const n = Math.round(between(24, 160, u));
  const extent = between(0.2, 0.9, u);
  const e = extent * n;
  // Centres keep the shape's circumscribed circle (its half-diagonal for the rotated square) on the canvas.
  const reach = Math.min(n / 2, (e / 2) * (shape === 'circle' ? 1 : Math.SQRT2));
  const range = COLOUR_RANGES[colour];
  const scene: VariedScene = {
    colour,
    shape,
    fill: hsvToRgb(between(...range.hue, u), between(...range.saturation, u), between(...range.value, u)),
    canvas: n,
    extent,
    cx: between(reach, n - reach, u),
    cy: between(reach, n - reach, u),
    rotation: shape === 'circle' ? 0 : between(0, 2 * Math.PI, u),
    background: pick(['plain', 'plain', 'gradient', 'noise'] as const, u),
    antialias: u() < 0.7,
  };
  if (u() < 0.4) scene.outline = { grey: pick([0, 0.15, 0.5, 0.85, 1], u), width: Math.max(1, between(0.01, 0.05, u) * n) };
  if (u() < 0.4) scene.jpegQuality = Math.round(between(40, 95, u));
  const distance = shapeDistance(shape, e, u);
  const backgroundValue = u();
  const rgb = drawScene(scene, distance, backgroundPainter(scene.background, tintedGrey(backgroundValue, u), n, u));
  const raw = sharp(rgb, { raw: { width: n, height: n, channels: 3 } });
  const image = await (scene.jpegQuality ? raw.jpeg({ quality: scene.jpegQuality }) : raw.png({ compressionLevel: 1 })).toBuffer();
  return { scene, image, words: captionWords(scene, scene.background === 'plain' ? backgroundValue : undefined) };
}

/** The caption words of a varied scene: size and position from its geometry, the background only when plain and nameable. */
function captionWords(scene: VariedScene, plainValue: number | undefined): CaptionWords {
  const x = scene.cx / scene.canvas;
  const background = plainValue === undefined ? undefined : plainValue < 0.2 ? 'black' : plainValue > 0.8 ? 'white' : 'grey';
  return { colour: scene.colour, shape: scene.shape, size: scene.extent < 0.5 ? 'small' : 'large', position: x < 1 / 3 ? 'left' : x < 2 / 3 ? 'middle' : 'right', ...(background ? { background } : {}) };
}

export interface VariedShapesDataset {
  /** NHWC float32 in [0, 1], [count, 32, 32, 3]. */
  images: Float32Array;
  captions: string[];
  scenes: VariedScene[];
}

/**
 * count varied scenes of the split as the backbone sees them (input: the checkpoint's input
 * spec, 32x32x3 NHWC in [0, 1]), with captions; deterministic for seed.
 */
export async function generateVariedShapes(count: number, seed: number, split: Split, input: InputSpec, chunk = 256): Promise<VariedShapesDataset> {
  if (input.height !== IMAGE_SIZE || input.width !== IMAGE_SIZE || input.channels !== CHANNELS) throw new Error('varied shapes: the input spec must be 32x32x3');
  const u = uniformStream(seed, 'varied-shapes');
  const pairs = splitPairs(split);
  const P = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;
  const images = new Float32Array(count * P);
  const captions: string[] = [];
  const scenes: VariedScene[] = [];
  for (let start = 0; start < count; start += chunk) {
    const encoded: Buffer[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      const [colour, shape] = pick(pairs, u);
      const { scene, image, words } = await variedScene(colour, shape, u);
      encoded.push(image);
      scenes.push(scene);
      captions.push(caption(words, u));
    }
    images.set(await preprocessImages(encoded, input, { maxInputPixels: 1 << 20 }), start * P);
  }
  return { images, captions, scenes };
}
