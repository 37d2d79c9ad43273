// The independent SVG renderer (src/training/zero-shot/svg-shapes.ts): reproducible for a seed,
// encoded as each scene says, and its pixels have the palette colour over the shape's area
// (float64 circle area from the scene's geometry).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { uniformStream } from '../../../src/training/common/random.ts';
import { isHeldOut } from '../../../src/training/zero-shot/shapes.ts';
import { rasteriseSvg, renderSvgShapes, svgScene } from '../../../src/training/zero-shot/svg-shapes.ts';

test('same seed gives the same bytes; splits keep to their pairs; each image has the format and size its scene says', async () => {
  const a = await renderSvgShapes(16, 4, 'train');
  const b = await renderSvgShapes(16, 4, 'train');
  a.images.forEach((img, i) => assert.ok(img.equals(b.images[i]), `image ${i}`));
  assert.ok(a.scenes.every((s) => !isHeldOut(s.colour, s.shape)));
  const held = await renderSvgShapes(16, 4, 'heldout');
  assert.ok(held.scenes.every((s) => isHeldOut(s.colour, s.shape)));
  for (const [i, img] of a.images.entries()) {
    const meta = await sharp(img).metadata();
    assert.equal(meta.format, a.scenes[i].format);
    assert.equal(meta.width, a.scenes[i].canvas);
    assert.equal(meta.height, a.scenes[i].canvas);
  }
});

test('PNG circles without an outline in a hex colour: the centre has that colour and it covers pi r^2 within a pixel of the radius', async () => {
  const u = uniformStream(9, 'svg-shapes-test');
  let checked = 0;
  for (let tries = 0; tries < 600 && checked < 10; tries++) {
    const { svg, scene } = svgScene('red', 'circle', u);
    if (scene.outline || scene.format !== 'png' || !scene.fill.startsWith('#')) continue;
    const { data } = await sharp(await rasteriseSvg(svg, scene)).raw().toBuffer({ resolveWithObject: true });
    const n = scene.canvas;
    const fill = [1, 3, 5].map((i) => parseInt(scene.fill.slice(i, i + 2), 16));
    const at = (x: number, y: number) => [0, 1, 2].map((c) => data[(y * n + x) * 3 + c]);
    at(Math.floor(scene.cx), Math.floor(scene.cy)).forEach((v, c) => assert.ok(Math.abs(v - fill[c]) <= 1, `centre ${v} vs ${fill[c]}`));
    let count = 0;
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) if (at(x, y).every((v, c) => Math.abs(v - fill[c]) <= 15)) count++;
    const r = (scene.extent * n) / 2;
    assert.ok(count >= Math.PI * (r - 1) ** 2 && count <= Math.PI * (r + 1) ** 2, `r ${r.toFixed(1)}: ${count} pixels`);
    checked++;
  }
  assert.ok(checked >= 10, `only ${checked} circles checked`);
});
