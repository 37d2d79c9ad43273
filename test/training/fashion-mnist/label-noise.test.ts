// Label-noise kinds against references written from the method (docs/results-fashion-mnist.md):
// 'class' draws exactly what it always drew (two uniforms per label, flip when the first is under
// the rate), 'input' flips image x with probability rate * sigmoid(4 z(x)), z the projection of its
// pixels / 255 on N(0, 1) weights standardised within its clean class; flip masks; determinism.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyLabelNoise } from '../../../src/training/fashion-mnist/label-noise.ts';
import { normalStream, uniformStream } from '../../../src/training/common/random.ts';
import { syntheticImages } from '../../helpers/train-data.ts';

const GROUPS = [
  [0, 2, 4, 6],
  [5, 7, 9],
];

/** The flip decision and pick of each label, from the seed's "label-noise" stream (two draws a label). */
function draws(seed: number, n: number): { u: number; pick: number }[] {
  const next = uniformStream(seed, 'label-noise');
  return Array.from({ length: n }, () => ({ u: next(), pick: next() }));
}

/** Float64 rate * sigmoid(4 z): z the projection standardised by its clean class's mean and population std. */
function referenceFlipProbability(pixels: Uint8Array, clean: Uint8Array, rate: number, seed: number): number[] {
  const count = clean.length;
  const features = pixels.length / count;
  const normal = normalStream(seed, 'label-noise-projection');
  const w = Array.from({ length: features }, () => normal());
  const raw = Array.from({ length: count }, (_, i) => w.reduce((a, wj, j) => a + wj * (pixels[i * features + j] / 255), 0));
  return raw.map((v, i) => {
    const same = raw.filter((_, j) => clean[j] === clean[i]);
    const mean = same.reduce((a, u) => a + u, 0) / same.length;
    const sd = Math.sqrt(same.reduce((a, u) => a + (u - mean) ** 2, 0) / same.length);
    return rate / (1 + Math.exp(-4 * ((v - mean) / sd)));
  });
}

/** Applies the reference decisions: flip when u < p and the class is in a group, to another member chosen by pick. */
function referenceLabels(clean: Uint8Array, p: (i: number) => number, seed: number): Uint8Array {
  const d = draws(seed, clean.length);
  return Uint8Array.from(clean, (y, i) => {
    const group = GROUPS.find((g) => g.includes(y));
    if (!group || !(d[i].u < p(i))) return y;
    const others = group.filter((c) => c !== y);
    return others[Math.floor(d[i].pick * others.length)];
  });
}

test("the 'class' kind (the default) draws what it always drew, and its mask marks exactly the changed labels", () => {
  const clean = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 10);
  const noisy = applyLabelNoise(clean, { rate: 0.4, groups: GROUPS, seed: 3 });
  assert.deepEqual([...noisy.labels], [...referenceLabels(clean, () => 0.4, 3)]);
  assert.deepEqual([...applyLabelNoise(clean, { kind: 'class', rate: 0.4, groups: GROUPS, seed: 3 }).labels], [...noisy.labels], 'explicit kind = default');
  assert.deepEqual([...noisy.mask], [...clean].map((y, i) => (noisy.labels[i] !== y ? 1 : 0)));
  assert.equal(noisy.flipped, noisy.mask.reduce((a, v) => a + v, 0));
  assert.equal(noisy.projection, undefined);
});

test("the 'input' kind: flip probability rate * sigmoid(4 z(x)) per image, flips by the same draws", () => {
  const set = syntheticImages(4000, 10, 21);
  const rate = 0.6;
  const noisy = applyLabelNoise(set.labels, { kind: 'input', rate, groups: GROUPS, seed: 5 }, set.pixels);
  const p = referenceFlipProbability(set.pixels, set.labels, rate, 5);
  for (let i = 0; i < set.count; i++) assert.ok(Math.abs(noisy.flipProbability![i] - p[i]) < 1e-12, `image ${i}: ${noisy.flipProbability![i]} vs ${p[i]}`);
  assert.deepEqual([...noisy.labels], [...referenceLabels(set.labels, (i) => p[i], 5)]);
  assert.deepEqual([...noisy.mask], [...set.labels].map((y, i) => (noisy.labels[i] !== y ? 1 : 0)));
  assert.equal(noisy.projection!.slope, 4);
  // Noisy and clean regions: grouped images with p > 0.9 rate flip at about rate, those under 0.1 rate almost never.
  const share = (keep: (pi: number) => boolean) => {
    const idx = [...set.labels.keys()].filter((i) => GROUPS.flat().includes(set.labels[i]) && keep(p[i]));
    return { n: idx.length, flips: idx.filter((i) => noisy.mask[i]).length };
  };
  const high = share((pi) => pi > 0.9 * rate);
  const low = share((pi) => pi < 0.1 * rate);
  assert.ok(high.n > 300 && low.n > 300, `both regions populated: ${high.n}, ${low.n}`);
  // Binomial bounds at 5 sd: high flips at a rate in (0.9, 1] x 0.6, low under 0.06.
  assert.ok(high.flips > high.n * 0.54 - 5 * Math.sqrt(high.n * 0.25), `high region: ${high.flips} of ${high.n}`);
  assert.ok(low.flips < low.n * 0.06 + 5 * Math.sqrt(low.n * 0.06), `low region: ${low.flips} of ${low.n}`);
  // Standardised within each class: every grouped class flips at about rate / 2 (sum of its p).
  for (const c of GROUPS.flat()) {
    const idx = [...set.labels.keys()].filter((i) => set.labels[i] === c);
    const expected = idx.reduce((a, i) => a + p[i], 0);
    assert.ok(Math.abs(expected / idx.length - rate / 2) < 0.05, `class ${c}: mean flip probability ${expected / idx.length}`);
    const flips = idx.filter((i) => noisy.mask[i]).length;
    assert.ok(Math.abs(flips - expected) < 5 * Math.sqrt(expected), `class ${c}: ${flips} flips, expected ${expected}`);
  }
  // Classes outside the groups never flip; flips stay in their group.
  for (let i = 0; i < set.count; i++) {
    const g = GROUPS.find((gr) => gr.includes(set.labels[i]));
    if (!g) assert.equal(noisy.labels[i], set.labels[i]);
    else assert.ok(g.includes(noisy.labels[i]));
  }
});

test("the 'input' kind is deterministic for a seed, changes with it, and needs the images", () => {
  const set = syntheticImages(500, 10, 2);
  const spec = { kind: 'input' as const, rate: 0.5, groups: GROUPS, seed: 8 };
  const a = applyLabelNoise(set.labels, spec, set.pixels);
  assert.deepEqual(applyLabelNoise(set.labels, spec, set.pixels), a);
  assert.notDeepEqual([...applyLabelNoise(set.labels, { ...spec, seed: 9 }, set.pixels).mask], [...a.mask]);
  assert.throws(() => applyLabelNoise(set.labels, spec), /needs the images/);
  assert.throws(() => applyLabelNoise(set.labels, spec, set.pixels.subarray(1)), /do not split/);
});
