// Writes a converted checkpoint folder (format v1) and proves that it loads, without a running
// server ever seeing half of it: the files go to a dot-folder of the models folder (which
// listCheckpointDirs skips), loadCheckpoint validates them there, then one rename publishes the
// folder. head.safetensors is written by the same writer as the generated checkpoints'.
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CHECKPOINT_FILES, loadCheckpoint, parseLabels, validateManifest } from '../format/checkpoint.ts';
import type { Manifest } from '../format/manifest.ts';
import { validateBackbone } from '../format/onnx-io.ts';
import { writeSafetensorsFile } from '../format/safetensors.ts';
import { ConvertError } from './errors.ts';

export interface CheckpointParts {
  modelsDir: string;
  /** The manifest as built: defaults are written in and everything is validated here. */
  manifest: unknown;
  name: string;
  backbone: Uint8Array;
  /** The backbone's source file, for messages. */
  backboneFile: string;
  tensors: { name: string; dims: number[]; data: Float32Array }[];
  /** labels.txt as read, and its source file for messages (classification). */
  labelsText?: string;
  labelsFile?: string;
  /** Further files of the folder, written as they are (a zero-shot model's text.onnx and tokenizer files). */
  files?: { name: string; bytes: Uint8Array }[];
}

export interface WrittenCheckpoint {
  dir: string;
  manifest: Manifest;
  files: string[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Validates every part, writes <modelsDir>/<name>, loads it with the server's loader. Refuses to overwrite. */
export async function writeCheckpoint(parts: CheckpointParts): Promise<WrittenCheckpoint> {
  const modelsDir = resolve(parts.modelsDir);
  const dir = join(modelsDir, parts.name);
  if (await exists(dir)) throw new ConvertError(`${dir} already exists; remove it or choose another --name`);
  // The checks the loader makes, before anything is written, so that a refusal leaves no folder.
  const manifest = validateManifest(parts.manifest, `${parts.name}/${CHECKPOINT_FILES.manifest}`, parts.name);
  const labels = parts.labelsText === undefined ? undefined : parseLabels(parts.labelsText, manifest.head.K, parts.labelsFile ?? CHECKPOINT_FILES.labels);
  validateBackbone(parts.backbone, manifest, parts.backboneFile);

  await mkdir(modelsDir, { recursive: true });
  const staging = await mkdtemp(join(modelsDir, '.convert-'));
  try {
    const staged = join(staging, parts.name);
    await mkdir(staged);
    const data = new Map(parts.tensors.map((t) => [t.name, t.data]));
    await writeSafetensorsFile(join(staged, CHECKPOINT_FILES.head), parts.tensors, (t) => [data.get(t.name)!]);
    await writeFile(join(staged, CHECKPOINT_FILES.backbone), parts.backbone);
    if (labels) await writeFile(join(staged, CHECKPOINT_FILES.labels), labels.join('\n') + '\n');
    for (const file of parts.files ?? []) await writeFile(join(staged, file.name), file.bytes);
    await writeFile(join(staged, CHECKPOINT_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
    await loadCheckpoint(staged);
    if (await exists(dir)) throw new ConvertError(`${dir} appeared while converting; nothing was written there`);
    await rename(staged, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const written = [CHECKPOINT_FILES.manifest, CHECKPOINT_FILES.backbone, CHECKPOINT_FILES.head, ...(labels ? [CHECKPOINT_FILES.labels] : []), ...(parts.files ?? []).map((f) => f.name)];
  return { dir, manifest, files: written };
}
