import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allLabels,
  captionVocabulary,
  CHANNELS,
  COLOURS,
  generateShapes,
  HELD_OUT,
  IMAGE_SIZE,
  insideShape,
  isHeldOut,
} from '../../../src/training/zero-shot/shapes.ts';

const PIXELS = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;

test('same seed gives the same images and captions; another seed differs', () => {
  const a = generateShapes(20, 7, 'all');
  const b = generateShapes(20, 7, 'all');
  const c = generateShapes(20, 8, 'all');
  assert.deepEqual(a.images, b.images);
  assert.deepEqual(a.captions, b.captions);
  assert.notDeepEqual(a.captions, c.captions);
});

test('the training split never draws a held-out pair; the held-out split draws only them', () => {
  const train = generateShapes(500, 1, 'train');
  assert.ok(train.scenes.every((s) => !isHeldOut(s.colour, s.shape)));
  const heldOut = generateShapes(200, 2, 'heldout');
  assert.ok(heldOut.scenes.every((s) => isHeldOut(s.colour, s.shape)));
  assert.equal(new Set(heldOut.scenes.map((s) => `${s.colour} ${s.shape}`)).size, HELD_OUT.length);
  assert.equal(allLabels().length, 28);
});

test('captions name the colour and the shape and use only vocabulary words', () => {
  const vocabulary = new Set(captionVocabulary());
  const data = generateShapes(300, 3, 'all');
  data.captions.forEach((caption, i) => {
    const words = caption.split(' ');
    assert.ok(words.includes(data.scenes[i].colour) && words.includes(data.scenes[i].shape), caption);
    for (const w of words) assert.ok(vocabulary.has(w), w);
  });
});

test('pixels inside the shape have its colour, within the pixel noise', () => {
  const noise = 0.04;
  const data = generateShapes(50, 4, 'all', noise);
  for (let i = 0; i < 50; i++) {
    const s = data.scenes[i];
    const cx = { left: 10, middle: 16, right: 22 }[s.position];
    const x = Math.floor(cx), y = Math.floor(s.centreY); // pixel whose centre is 0.5 from the shape centre
    const inside = insideShape(s.shape, x + 0.5 - cx, y + 0.5 - s.centreY, s.size === 'small' ? 5 : 9);
    if (!inside) continue;
    const p = i * PIXELS + (y * IMAGE_SIZE + x) * CHANNELS;
    for (let c = 0; c < CHANNELS; c++) {
      assert.ok(Math.abs(data.images[p + c] - COLOURS[s.colour][c]) <= noise + 1e-6);
    }
  }
});

test('a rasterised circle covers about pi r^2 pixels (float64 area, 10% tolerance)', () => {
  for (const r of [5, 9]) {
    let count = 0;
    for (let y = 0; y < IMAGE_SIZE; y++) for (let x = 0; x < IMAGE_SIZE; x++) if (insideShape('circle', x + 0.5 - 16, y + 0.5 - 16, r)) count++;
    assert.ok(Math.abs(count - Math.PI * r * r) / (Math.PI * r * r) < 0.1, `${r}: ${count}`);
  }
});
