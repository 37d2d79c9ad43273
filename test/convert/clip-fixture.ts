// The stand-in for a real CLIP (test/fixtures/clip/, written by scripts/make-clip-fixture.py):
// its files, its expected values, and checkpoint folders assembled from them by hand (the
// converter's output is compared with these in test/convert/clip.test.ts). Two exports of the
// same weights: as optimum names a Hugging Face CLIP (input_ids + attention_mask -> text_embeds,
// dynamic length, pad <|endoftext|> from tokenizer_config.json), and as open_clip's encode_text
// is usually exported (token ids "text" alone, a static length of 77, no tokenizer_config.json).
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensorsFile } from '../../src/format/safetensors.ts';

export const CLIP_FIXTURE = 'test/fixtures/clip';
export const CLIP_TEMPLATES = ['a photo of a {label}.', 'a drawing of a {label}'];

export interface ClipExpected {
  logitScale: number;
  contextLength: number;
  /** Per prompt: its ids by OpenAI's BPE algorithm (with <|startoftext|> / <|endoftext|>) and torch's text_embeds of the 77-padded row. */
  prompts: Record<string, { ids: number[]; textEmbeds: number[] }>;
  formulaImageEmbeds: number[];
}

export async function clipExpected(): Promise<ClipExpected> {
  return JSON.parse(await readFile(join(CLIP_FIXTURE, 'expected.json'), 'utf8')) as ClipExpected;
}

export async function clipJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(CLIP_FIXTURE, file), 'utf8')) as Record<string, unknown>;
}

/** [1, 3, 32, 32]: sin(0.05 * (32 h + w) + c), the script's formula_pixels. */
export function formulaPixels(): Float32Array {
  const out = new Float32Array(3 * 32 * 32);
  for (let c = 0; c < 3; c++) for (let h = 0; h < 32; h++) for (let w = 0; w < 32; w++) out[(c * 32 + h) * 32 + w] = Math.sin(0.05 * (32 * h + w) + c);
  return out;
}

export type ClipVariant = 'hf' | 'open_clip';

/**
 * <modelsDir>/<name>: a det zero-shot checkpoint of the fixture with the temperature given as
 * logitScale (no head.tau). `manifest` overrides fields of the manifest (for refusals).
 */
export async function writeClipCheckpoint(modelsDir: string, name: string, variant: ClipVariant, manifest: Record<string, unknown> = {}): Promise<string> {
  const dir = join(modelsDir, name);
  await mkdir(dir, { recursive: true });
  const expected = await clipExpected();
  await copyFile(join(CLIP_FIXTURE, 'image.onnx'), join(dir, 'backbone.onnx'));
  await copyFile(join(CLIP_FIXTURE, variant === 'hf' ? 'text.onnx' : 'text-static.onnx'), join(dir, 'text.onnx'));
  await copyFile(join(CLIP_FIXTURE, 'tokenizer', 'tokenizer.json'), join(dir, 'tokenizer.json'));
  if (variant === 'hf') await copyFile(join(CLIP_FIXTURE, 'tokenizer', 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  await writeSafetensorsFile(join(dir, 'head.safetensors'), [], () => []);
  const text =
    variant === 'hf'
      ? { inputIds: 'input_ids', attentionMask: 'attention_mask', embedding: 'text_embeds' }
      : { inputIds: 'text', embedding: 'text_features', contextLength: expected.contextLength };
  const body = {
    formatVersion: 1,
    name,
    task: 'zero-shot',
    head: { type: 'det', D: 16, K: 1 },
    input: await clipJson('input.json'),
    mc: {},
    zeroShot: { templates: CLIP_TEMPLATES, logitScale: expected.logitScale, text },
    ...manifest,
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(body, null, 2));
  return dir;
}
