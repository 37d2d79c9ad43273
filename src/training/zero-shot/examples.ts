// Sample images for the zero-shot docs: the first red circle (a seen pair) and the first blue
// circle (a held-out pair) of generateShapes(200, 7, 'all'), written as 32x32 8-bit PNGs, and
// their predictions through the served path (ZeroShotPipeline.predict) over the 28 labels.
// src/cli/zero-shot-examples.ts runs them.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadServed } from './served.ts';
import { allLabels, CHANNELS, generateShapes, IMAGE_SIZE, isHeldOut, type ShapeScene } from './shapes.ts';

const EXAMPLE_SOURCE = { count: 200, seed: 7, split: 'all' } as const;
const EXAMPLES = [
  { file: 'red-circle.png', colour: 'red', shape: 'circle' },
  { file: 'blue-circle.png', colour: 'blue', shape: 'circle' },
] as const;

/** The example scenes with their 8-bit RGB pixels. */
function exampleScenes(): { file: string; scene: ShapeScene; index: number; rgb: Uint8Array }[] {
  const data = generateShapes(EXAMPLE_SOURCE.count, EXAMPLE_SOURCE.seed, EXAMPLE_SOURCE.split);
  const P = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;
  return EXAMPLES.map(({ file, colour, shape }) => {
    const index = data.scenes.findIndex((s) => s.colour === colour && s.shape === shape);
    if (index < 0) throw new Error(`no ${colour} ${shape} among the example scenes`);
    const rgb = Uint8Array.from(data.images.subarray(index * P, (index + 1) * P), (x) => Math.round(x * 255));
    return { file, scene: data.scenes[index], index, rgb };
  });
}

export async function writeExamples(dir: string): Promise<void> {
  for (const { file, scene, index, rgb } of exampleScenes()) {
    await sharp(Buffer.from(rgb), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: CHANNELS } }).png().toFile(join(dir, file));
    console.log(`${file}: scene ${index}: ${JSON.stringify(scene)}`);
  }
}

/** Top-5 labels of each example PNG through the served model, mean mode and MC (S = 1000, seed 0). */
export async function predictExamples(modelDir: string, dir: string): Promise<void> {
  const model = await loadServed(modelDir);
  const labels = allLabels();
  try {
    for (const { file, colour, shape } of EXAMPLES) {
      const png = await readFile(join(dir, file));
      const heldOut = isHeldOut(colour, shape) ? 'held-out pair' : 'seen pair';
      for (const mode of model.metadata.supportsMc ? (['mean', 'mc'] as const) : (['mean'] as const)) {
        const [p] = await model.predict(model.prepare({ images: [png], labels }), { mode, samples: 1000, seed: 0 });
        const top = [...p.probs].map((v, k) => [v, k] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
        console.log(`${file} (${colour} ${shape}, ${heldOut}) ${mode}: ${top.map(([v, k]) => `${labels[k]} ${v.toFixed(3)}`).join(', ')}`);
      }
    }
  } finally {
    await model.dispose();
  }
}
