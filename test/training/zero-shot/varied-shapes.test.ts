// The varied training renderer (src/training/zero-shot/varied-shapes.ts): reproducible for a
// seed, splits keep to their pairs, and the drawn pixels have the scene's fill colour over the
// shape's area (float64 areas of the circle and square from the scene's geometry).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { uniformStream } from '../../../src/training/common/random.ts';
import { ZERO_SHOT_INPUT } from '../../../src/training/zero-shot/export.ts';
import { captionVocabulary, isHeldOut } from '../../../src/training/zero-shot/shapes.ts';
import { generateVariedShapes, hsvToRgb, variedScene } from '../../../src/training/zero-shot/varied-shapes.ts';

test('same seed gives the same pixels and captions; another seed differs; pixels are 8-bit values in [0, 1]', async () => {
  const a = await generateVariedShapes(24, 5, 'all', ZERO_SHOT_INPUT);
  const b = await generateVariedShapes(24, 5, 'all', ZERO_SHOT_INPUT);
  const c = await generateVariedShapes(24, 6, 'all', ZERO_SHOT_INPUT);
  assert.equal(a.images.length, 24 * 32 * 32 * 3);
  assert.deepEqual(a.images, b.images);
  assert.deepEqual(a.captions, b.captions);
  assert.notDeepEqual(a.images, c.images);
  for (const v of a.images) assert.ok(v >= 0 && v <= 1 && Math.abs(v * 255 - Math.round(v * 255)) < 1e-4);
});

test('the training split never draws a held-out pair; captions name the colour and shape in vocabulary words', async () => {
  const vocabulary = new Set(captionVocabulary());
  const train = await generateVariedShapes(200, 1, 'train', ZERO_SHOT_INPUT);
  train.scenes.forEach((s, i) => {
    assert.ok(!isHeldOut(s.colour, s.shape));
    const words = train.captions[i].split(' ');
    assert.ok(words.includes(s.colour) && words.includes(s.shape), train.captions[i]);
    for (const w of words) assert.ok(vocabulary.has(w), w);
  });
  const held = await generateVariedShapes(50, 2, 'heldout', ZERO_SHOT_INPUT);
  assert.ok(held.scenes.every((s) => isHeldOut(s.colour, s.shape)));
});

test('hsvToRgb: the six primary and secondary hues, and grey at zero saturation', () => {
  const cases: [number, number, number, number[]][] = [
    [0, 1, 1, [1, 0, 0]], [60, 1, 1, [1, 1, 0]], [120, 1, 1, [0, 1, 0]], [180, 1, 1, [0, 1, 1]],
    [240, 1, 1, [0, 0, 1]], [300, 1, 1, [1, 0, 1]], [-60, 1, 0.5, [0.5, 0, 0.5]], [77, 0, 0.3, [0.3, 0.3, 0.3]],
  ];
  for (const [h, s, v, ref] of cases) hsvToRgb(h, s, v).forEach((x, c) => assert.ok(Math.abs(x - ref[c]) < 1e-12, `${h} ${s} ${v}`));
});

test('PNG scenes without an outline: the centre has the fill, and the fill covers the circle or square area within a pixel', async () => {
  const u = uniformStream(3, 'varied-shapes-test');
  let checked = 0;
  for (let tries = 0; tries < 400 && checked < 12; tries++) {
    const shape = tries % 2 === 0 ? 'circle' : 'square';
    const { scene, image } = await variedScene('blue', shape, u);
    if (scene.outline || scene.jpegQuality) continue;
    const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, scene.canvas);
    const n = scene.canvas;
    const fill = scene.fill.map((v) => Math.round(255 * v));
    const at = (x: number, y: number) => [0, 1, 2].map((c) => data[(y * n + x) * 3 + c]);
    at(Math.floor(scene.cx), Math.floor(scene.cy)).forEach((v, c) => assert.ok(Math.abs(v - fill[c]) <= 1, `centre ${v} vs ${fill[c]}`));
    let count = 0;
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) if (at(x, y).every((v, c) => Math.abs(v - fill[c]) <= 15)) count++;
    // Fill-coloured pixels: those whose centre lies at least about half a pixel inside the edge.
    const e = scene.extent * n;
    const [lo, hi] = shape === 'circle' ? [Math.PI * (e / 2 - 1) ** 2, Math.PI * (e / 2 + 1) ** 2] : [(e - 2) ** 2, (e + 2) ** 2];
    assert.ok(count >= lo && count <= hi, `${shape} extent ${e.toFixed(1)} px: ${count} pixels, expected ${lo.toFixed(0)}..${hi.toFixed(0)}`);
    checked++;
  }
  assert.ok(checked >= 12, `only ${checked} scenes checked`);
});
