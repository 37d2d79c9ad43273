// Synthetic image–caption dataset for the zero-shot demo: coloured shapes of two sizes at three
// positions on a few backgrounds, 32x32 RGB, with captions from a small grammar.
// These fixed ("classic") scenes were the first demo model's training data; now they are a test
// set and the README's sample images, and the model trains on varied-shapes.ts's renderings. The
// label sets, the held-out pairs and the caption grammar here are shared by every renderer.
//
// Deterministic for a seed. Some colour–shape combinations (HELD_OUT) never appear in the
// training split, so zero-shot accuracy on them measures composition of words the text tower
// saw only in other combinations. Rasterised here by hand (a point-in-shape test per pixel):
// 32x32 images need no drawing library and sharp would add an async PNG round trip per image.
// Random numbers: the project's seeded uniform stream (src/training/common/random.ts), key "shapes".

import { uniformStream } from '../common/random.ts';

export const IMAGE_SIZE = 32;
export const CHANNELS = 3;

export const COLOURS = {
  red: [0.9, 0.1, 0.1],
  green: [0.1, 0.75, 0.1],
  blue: [0.15, 0.25, 0.95],
  yellow: [0.95, 0.9, 0.1],
  purple: [0.6, 0.15, 0.75],
  orange: [1.0, 0.55, 0.05],
  cyan: [0.1, 0.85, 0.9],
} as const satisfies Record<string, readonly [number, number, number]>;
export type Colour = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as Colour[];

export const SHAPE_NAMES = ['circle', 'square', 'triangle', 'cross'] as const;
export type Shape = (typeof SHAPE_NAMES)[number];

const SIZES = { small: 5, large: 9 } as const;
export type Size = keyof typeof SIZES;
const POSITIONS = { left: 10, middle: 16, right: 22 } as const;
export type Position = keyof typeof POSITIONS;
const BACKGROUNDS = { black: [0.02, 0.02, 0.02], grey: [0.35, 0.35, 0.35], white: [0.97, 0.97, 0.97] } as const;
export type Background = keyof typeof BACKGROUNDS;

/** Colour–shape pairs kept out of the training split: one per colour, each shape at least once. */
export const HELD_OUT: ReadonlyArray<readonly [Colour, Shape]> = [
  ['red', 'triangle'],
  ['green', 'cross'],
  ['blue', 'circle'],
  ['yellow', 'square'],
  ['purple', 'triangle'],
  ['orange', 'circle'],
  ['cyan', 'cross'],
];

export function isHeldOut(colour: Colour, shape: Shape): boolean {
  return HELD_OUT.some(([c, s]) => c === colour && s === shape);
}

/** Every colour–shape label, "red circle", in colour-major order: the zero-shot prompt set. */
export function allLabels(): string[] {
  return COLOUR_NAMES.flatMap((c) => SHAPE_NAMES.map((s) => `${c} ${s}`));
}

export interface ShapeScene {
  colour: Colour;
  shape: Shape;
  size: Size;
  position: Position;
  background: Background;
  /** Vertical centre in pixels (jittered). */
  centreY: number;
}

export interface ShapesDataset {
  /** NHWC float32 in [0, 1], length count * 32 * 32 * 3. */
  images: Float32Array;
  captions: string[];
  scenes: ShapeScene[];
}

/** Which colour–shape pairs a split may draw: training excludes HELD_OUT, heldout is only them. */
export type Split = 'train' | 'heldout' | 'all';

/** The colour–shape pairs a split draws from. */
export function splitPairs(split: Split): (readonly [Colour, Shape])[] {
  return COLOUR_NAMES.flatMap((c) => SHAPE_NAMES.map((s) => [c, s] as const)).filter(([c, s]) => split === 'all' || (split === 'heldout') === isHeldOut(c, s));
}

export function pick<T>(items: readonly T[], uniform: () => number): T {
  return items[Math.floor(uniform() * items.length)];
}

/** Whether the offset (dx, dy) from the shape's centre lies inside a shape of radius r. */
export function insideShape(shape: Shape, dx: number, dy: number, r: number): boolean {
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= r * r;
    case 'square':
      return Math.abs(dx) <= 0.85 * r && Math.abs(dy) <= 0.85 * r;
    case 'triangle': // apex up: half-width grows linearly from 0 at the top to r at the base
      return dy >= -r && dy <= r && Math.abs(dx) <= (dy + r) / 2;
    case 'cross':
      return (Math.abs(dx) <= r / 3 && Math.abs(dy) <= r) || (Math.abs(dy) <= r / 3 && Math.abs(dx) <= r);
  }
}

/** Draws one scene into images at offset, plus uniform pixel noise of amplitude noise. */
function render(scene: ShapeScene, images: Float32Array, offset: number, uniform: () => number, noise: number): void {
  const r = SIZES[scene.size];
  const cx = POSITIONS[scene.position];
  const fill = COLOURS[scene.colour];
  const back = BACKGROUNDS[scene.background];
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const colour = insideShape(scene.shape, x + 0.5 - cx, y + 0.5 - scene.centreY, r) ? fill : back;
      const p = offset + (y * IMAGE_SIZE + x) * CHANNELS;
      for (let c = 0; c < CHANNELS; c++) {
        images[p + c] = Math.min(1, Math.max(0, colour[c] + noise * (2 * uniform() - 1)));
      }
    }
  }
}

/** The words a caption may use: a scene without a nameable background (a gradient, noise) has none. */
export interface CaptionWords {
  colour: Colour;
  shape: Shape;
  size: Size;
  position: Position;
  background?: Background;
}

/** A caption from the grammar; every form names the colour and the shape. */
export function caption(scene: CaptionWords, uniform: () => number): string {
  const { colour, shape, size, position, background } = scene;
  const forms = [
    `a ${colour} ${shape}`,
    `a ${size} ${colour} ${shape}`,
    `a ${colour} ${shape} on the ${position}`,
    `a ${size} ${colour} ${shape} on the ${position}`,
  ];
  if (background) forms.push(`a ${colour} ${shape} on a ${background} background`, `a ${size} ${colour} ${shape} on the ${position} on a ${background} background`);
  return pick(forms, uniform);
}

/** Every word the captions and the default prompt templates can contain: the tokenizer's vocabulary. */
export function captionVocabulary(): string[] {
  const words = new Set<string>(['a', 'on', 'the', 'photo', 'of', 'picture', 'background', 'drawing']);
  for (const list of [COLOUR_NAMES, SHAPE_NAMES, Object.keys(SIZES), Object.keys(POSITIONS), Object.keys(BACKGROUNDS)]) {
    for (const w of list) words.add(w);
  }
  return [...words].sort();
}

/** count scenes of the split, deterministic for seed; noise is the pixel noise amplitude. */
export function generateShapes(count: number, seed: number, split: Split, noise = 0.04): ShapesDataset {
  const uniform = uniformStream(seed, 'shapes');
  const pairs = splitPairs(split);
  const images = new Float32Array(count * IMAGE_SIZE * IMAGE_SIZE * CHANNELS);
  const captions: string[] = [];
  const scenes: ShapeScene[] = [];
  for (let i = 0; i < count; i++) {
    const [colour, shape] = pick(pairs, uniform);
    const scene: ShapeScene = {
      colour,
      shape,
      size: pick(Object.keys(SIZES) as Size[], uniform),
      position: pick(Object.keys(POSITIONS) as Position[], uniform),
      background: pick(Object.keys(BACKGROUNDS) as Background[], uniform),
      centreY: 16 + Math.round(4 * uniform() - 2),
    };
    render(scene, images, i * IMAGE_SIZE * IMAGE_SIZE * CHANNELS, uniform, noise);
    scenes.push(scene);
    captions.push(caption(scene, uniform));
  }
  return { images, captions, scenes };
}
