// Reading and validating a checkpoint folder (format v1, docs/checkpoint-format.md).
// Everything a model needs is checked here, before any session is created, and every refusal
// names the file and the problem. No HTTP and no logging: the caller (the registry) logs.
// Symlinks: every file is resolved (realpath) and must stay inside its model's folder, and a
// symlinked model folder must resolve inside MODELS_DIR; files are read through the resolved path.
// Otherwise a labels.txt linked to any file the server can read would be served by /labels.
import { constants, open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { headParamShapes } from './head-params.ts';
import type { HeadWeights } from './head-params.ts';
import { FORMAT_VERSION, HEAD_TYPES, Manifest, type InputSpec } from './manifest.ts';
import { temperatureTau } from './temperature.ts';
import { validateBackbone, validateTextTower } from './onnx-io.ts';
import { PromptTokenizer, TokenizerError } from './tokenizer.ts';
import { CheckpointError } from './errors.ts';

import { readSafetensors, SafetensorsError } from './safetensors.ts';

export const CHECKPOINT_FILES = {
  manifest: 'manifest.json',
  backbone: 'backbone.onnx',
  head: 'head.safetensors',
  labels: 'labels.txt',
  text: 'text.onnx',
  tokenizer: 'tokenizer.json',
  /** Optional beside tokenizer.json: model_max_length (the context length), pad_token. */
  tokenizerConfig: 'tokenizer_config.json',
} as const;

export interface Checkpoint {
  /** Absolute path of the folder. */
  dir: string;
  manifest: Manifest;
  /** The bytes of backbone.onnx, checked to decode as an ONNX ModelProto with the right I/O. */
  backbone: Uint8Array;
  weights: HeadWeights;
  /** K class names for classification models; empty for zero-shot models. */
  labels: string[];
  /**
   * Zero-shot models only: text.onnx bytes (I/O checked), the loaded tokenizer (tokenizer.json
   * with tokenizer_config.json when present), and the tower's static prompt length, if it has one
   * (every row is then padded to it).
   */
  text?: { tower: Uint8Array; tokenizer: PromptTokenizer; sequenceLength?: number };
}

const MAX_LISTED = 5;

function listSome(items: string[]): string {
  const more = items.length - MAX_LISTED;
  return items.slice(0, MAX_LISTED).join('; ') + (more > 0 ? `; and ${more} more` : '');
}

function fmtDims(dims: number[]): string {
  return `[${dims.join(', ')}]`;
}

/** True when `path` lies strictly below `folder` (both already resolved with realpath). */
function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function readProblem(file: string, e: unknown): CheckpointError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new CheckpointError(file, 'missing file');
  if (code === 'EISDIR') return new CheckpointError(file, 'is a folder, expected a file');
  return new CheckpointError(file, `cannot read file (${code ?? (e as Error).message})`);
}

/** A checkpoint folder: its path as listed (errors name files by it) and its realpath. */
interface Folder {
  dir: string;
  real: string;
}

/**
 * The realpath of the file `name` of the folder; refused when it resolves outside the folder. The
 * error names the file by its path in the folder, never by where the link points (the problem
 * is shown by /v1/models, and the target is a path of the host).
 */
async function resolveFile(folder: Folder, name: string): Promise<string> {
  const file = join(folder.dir, name);
  let real: string;
  try {
    real = await realpath(file);
  } catch (e) {
    throw readProblem(file, e);
  }
  if (!isInside(real, folder.real)) {
    throw new CheckpointError(file, 'is a symlink that resolves outside the model folder (checkpoint files must be inside their folder)');
  }
  return real;
}

/**
 * Reads the file `name` of the folder through its resolved path. O_NOFOLLOW: should the resolved
 * path have been replaced by a symlink since it was resolved, the read fails instead of following it.
 */
async function readRequired(folder: Folder, name: string): Promise<Buffer> {
  const real = await resolveFile(folder, name);
  try {
    const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (e) {
    throw readProblem(join(folder.dir, name), e);
  }
}

// --- manifest.json ------------------------------------------------------------------------------

/**
 * Applies the schema's defaults, validates, then checks what the schema cannot express.
 * `folderName` must equal manifest.name: the folder name is the model's name in URLs, and a
 * mismatch is almost always a copied or renamed folder whose manifest was not updated.
 */
export function validateManifest(raw: unknown, file: string, folderName: string): Manifest {
  const fail = (problem: string): never => {
    throw new CheckpointError(file, problem);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('manifest must be a JSON object');
  const obj = raw as Record<string, unknown>;
  if (typeof obj.formatVersion === 'number' && obj.formatVersion !== FORMAT_VERSION) {
    fail(`unsupported formatVersion ${obj.formatVersion} (this server reads format ${FORMAT_VERSION})`);
  }
  const head = obj.head as Record<string, unknown> | undefined;
  if (head && typeof head === 'object' && 'type' in head && !(HEAD_TYPES as readonly unknown[]).includes(head.type)) {
    fail(`unknown head type ${JSON.stringify(head.type)} (expected one of ${HEAD_TYPES.join(', ')})`);
  }
  const value = Value.Default(Manifest, withTauFromLogitScale(obj, fail));
  if (!Value.Check(Manifest, value)) {
    const errors = [...Value.Errors(Manifest, value)].map((e) => {
      // "Expected union value" alone is unhelpful: name the allowed literals.
      const options = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf;
      const allowed = options?.every((o) => o.const !== undefined) ? ` (one of ${options.map((o) => JSON.stringify(o.const)).join(', ')})` : '';
      return `${e.path || '/'}: ${e.message}${allowed}`;
    });
    fail(`schema errors: ${listSome(errors)}`);
  }
  const m = value as Manifest;
  const h = m.head;
  if (h.type !== 'det') {
    if (h.covariance === undefined) fail(`head type ${h.type} needs head.covariance ("param-efficient" or "full")`);
    if (h.R === undefined) fail(`head type ${h.type} needs head.R (number of covariance factors)`);
  }
  if (h.temperature) {
    const { t, min, max } = h.temperature;
    if (!(min < max)) fail(`head.temperature needs min < max, got min ${min}, max ${max}`);
    const expected = temperatureTau({ t, min, max });
    if (Math.abs(expected - h.tau) > 1e-3 * Math.max(1, expected)) {
      fail(`head.tau ${h.tau} disagrees with head.temperature: min + (max - min) * sigmoid(t) = ${expected}`);
    }
  }
  if (m.input.mean.length !== m.input.channels) fail(`input.mean has ${m.input.mean.length} values for ${m.input.channels} channel(s)`);
  if (m.input.std.length !== m.input.channels) fail(`input.std has ${m.input.std.length} values for ${m.input.channels} channel(s)`);
  checkResize(m.input, fail);
  if (m.mc.defaultSamples > m.mc.maxSamples) fail(`mc.defaultSamples ${m.mc.defaultSamples} exceeds mc.maxSamples ${m.mc.maxSamples}`);
  if (m.task === 'zero-shot' && h.type === 'het') {
    fail('zero-shot models need head type det or het-xl (HET noise lives on the K logits, unknown before the request)');
  }
  if (m.task === 'zero-shot' && h.type === 'het-xl' && h.covariance !== 'param-efficient') {
    fail('zero-shot het-xl heads must use covariance "param-efficient" (the full form is not implemented for zero-shot)');
  }
  if (m.task === 'zero-shot' && h.link === 'sigmoid') {
    fail('zero-shot models need head.link "softmax" (a sigmoid link is served for classification models only)');
  }
  if (m.task === 'zero-shot' && h.type === 'het-xl' && h.R === 0) {
    fail('zero-shot het-xl heads need head.R >= 1 (diagonal-only heads are served for classification models only)');
  }
  if (m.task === 'zero-shot' && h.diagonalNoise === 'shared') {
    fail('zero-shot models need head.diagonalNoise "independent" (shared diagonal noise is served for classification models only)');
  }
  if (h.type === 'det' && h.diagonalNoise !== undefined) fail('head.diagonalNoise given for a det head, which has no noise');
  if (m.task === 'zero-shot' && !m.zeroShot) fail('task zero-shot needs a zeroShot section (templates, imageNormalisation)');
  if (m.task === 'classification' && m.zeroShot) fail('zeroShot section given for a classification model (only task zero-shot reads it)');
  if (m.name !== folderName) {
    fail(`manifest name "${m.name}" differs from the folder name "${folderName}" (they must be equal: the folder name is the model's name)`);
  }
  return m;
}

/**
 * A zero-shot manifest may give CLIP's logit_scale instead of head.tau: tau = 1 / exp(logitScale)
 * is written in (on a copy). Given both, they must agree to 1e-3 (relative), as head.temperature.
 */
function withTauFromLogitScale(obj: Record<string, unknown>, fail: (problem: string) => never): Record<string, unknown> {
  const zeroShot = obj.zeroShot as Record<string, unknown> | undefined;
  const head = obj.head as Record<string, unknown> | undefined;
  const scale = zeroShot && typeof zeroShot === 'object' ? zeroShot.logitScale : undefined;
  if (typeof scale !== 'number' || !head || typeof head !== 'object' || !Number.isFinite(scale)) return obj;
  const tau = Math.exp(-scale);
  if (head.tau === undefined) return { ...obj, head: { ...head, tau } };
  if (typeof head.tau === 'number' && Math.abs(head.tau - tau) > 1e-3 * tau) {
    fail(`head.tau ${head.tau} disagrees with zeroShot.logitScale ${scale}: 1 / exp(logitScale) = ${Number(tau.toPrecision(6))} (leave head.tau out to take it from logitScale)`);
  }
  return obj;
}

/** resizeSize belongs to shorter-side-then-center-crop, which needs it at least as large as the crop (torchvision would pad). */
function checkResize(input: InputSpec, fail: (problem: string) => never): void {
  const { resize, resizeSize, height, width } = input;
  if (resize !== 'shorter-side-then-center-crop') {
    if (resizeSize !== undefined) fail(`input.resizeSize is read by resize "shorter-side-then-center-crop" only, not "${resize}"`);
    return;
  }
  if (resizeSize === undefined) fail('input.resize "shorter-side-then-center-crop" needs input.resizeSize (the shorter side before the crop)');
  if (resizeSize < Math.max(height, width)) {
    fail(`input.resizeSize ${resizeSize} is smaller than the ${height} x ${width} crop (it must be at least ${Math.max(height, width)})`);
  }
}

// --- head.safetensors ---------------------------------------------------------------------------

/** The tensors the manifest's head needs (zero-shot models take W from text embeddings: no loc_layer). */
export function expectedTensors(manifest: Manifest): { name: string; dims: number[] }[] {
  const all = headParamShapes(manifest.head);
  return manifest.task === 'zero-shot' ? all.filter((p) => !p.name.startsWith('loc_layer/')) : all;
}

export function validateWeights(bytes: Uint8Array, manifest: Manifest, file: string): HeadWeights {
  let tensors;
  try {
    tensors = readSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(file, e.message);
    throw e;
  }
  const expected = expectedTensors(manifest);
  const problems: string[] = [];
  const wanted = new Set(expected.map((p) => p.name));
  for (const p of expected) {
    const t = tensors.get(p.name);
    if (!t) problems.push(`missing tensor ${p.name} ${fmtDims(p.dims)}`);
    else if (t.dims.length !== p.dims.length || t.dims.some((d, i) => d !== p.dims[i])) {
      problems.push(`tensor ${p.name} has shape ${fmtDims(t.dims)}, expected ${fmtDims(p.dims)}`);
    }
  }
  for (const name of tensors.keys()) if (!wanted.has(name)) problems.push(`unexpected tensor ${name}`);
  const what = `${manifest.head.type}${manifest.head.type === 'det' ? '' : ` ${manifest.head.covariance}`} head with D = ${manifest.head.D}, K = ${manifest.head.K}${manifest.head.R === undefined || manifest.head.type === 'det' ? '' : `, R = ${manifest.head.R}`}`;
  if (problems.length > 0) throw new CheckpointError(file, `tensors do not match the ${what}: ${listSome(problems)}`);
  const weights: HeadWeights = new Map();
  for (const p of expected) {
    const t = tensors.get(p.name)!;
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) throw new CheckpointError(file, `tensor ${p.name} holds a non-finite value (${t.data[i]}) at flat index ${i}`);
    }
    weights.set(p.name, { dims: t.dims, data: t.data });
  }
  return weights;
}

// --- labels.txt ---------------------------------------------------------------------------------

/** One label per line (LF or CRLF), one trailing newline allowed, no empty or duplicate labels. */
export function parseLabels(text: string, K: number, file: string): string[] {
  let body = text.startsWith('\ufeff') ? text.slice(1) : text;
  if (body.endsWith('\r\n')) body = body.slice(0, -2);
  else if (body.endsWith('\n')) body = body.slice(0, -1);
  const lines = body === '' ? [] : body.split(/\r?\n/);
  if (lines.length !== K) throw new CheckpointError(file, `${lines.length} labels (lines), but the manifest says K = ${K}`);
  const firstLine = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') throw new CheckpointError(file, `empty label on line ${i + 1}`);
    const prev = firstLine.get(lines[i]);
    if (prev !== undefined) throw new CheckpointError(file, `duplicate label "${lines[i]}" on lines ${prev} and ${i + 1}`);
    firstLine.set(lines[i], i + 1);
  }
  return lines;
}

// --- the folder ---------------------------------------------------------------------------------

export interface LoadOptions {
  /** The models folder `dir` was listed from: `dir` must resolve (realpath) inside it. */
  modelsDir?: string;
}

/**
 * Reads and validates the checkpoint folder `dir`. Throws CheckpointError (file, problem) on the
 * first problem found, in this order: folder (and, with `modelsDir`, where it resolves to),
 * manifest.json, presence of the other files (each resolving inside the folder), labels.txt,
 * backbone.onnx, head.safetensors, then text.onnx and tokenizer.json (zero-shot).
 */
export async function loadCheckpoint(dir: string, options: LoadOptions = {}): Promise<Checkpoint> {
  const root = resolve(dir);
  let st;
  try {
    st = await stat(root);
  } catch {
    throw new CheckpointError(root, 'checkpoint folder not found');
  }
  if (!st.isDirectory()) throw new CheckpointError(root, 'not a folder');
  const folder: Folder = { dir: root, real: await realpath(root) };
  if (options.modelsDir !== undefined && !isInside(folder.real, await realpath(options.modelsDir))) {
    throw new CheckpointError(root, 'is a symlink that resolves outside MODELS_DIR (a symlinked model folder must point inside MODELS_DIR)');
  }

  const path = (name: string): string => join(root, name);
  const manifestFile = path(CHECKPOINT_FILES.manifest);
  const manifestText = (await readRequired(folder, CHECKPOINT_FILES.manifest)).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(manifestText.startsWith('\ufeff') ? manifestText.slice(1) : manifestText);
  } catch (e) {
    throw new CheckpointError(manifestFile, `not valid JSON: ${(e as Error).message}`);
  }
  const manifest = validateManifest(raw, manifestFile, basename(root));

  const required: string[] = [CHECKPOINT_FILES.backbone, CHECKPOINT_FILES.head];
  if (manifest.task === 'classification') required.push(CHECKPOINT_FILES.labels);
  else required.push(CHECKPOINT_FILES.text, CHECKPOINT_FILES.tokenizer);
  for (const name of required) await resolveFile(folder, name);

  let labels: string[] = [];
  if (manifest.task === 'classification') {
    const labelsFile = path(CHECKPOINT_FILES.labels);
    const bytes = await readRequired(folder, CHECKPOINT_FILES.labels);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new CheckpointError(labelsFile, 'not valid UTF-8 text');
    }
    labels = parseLabels(text, manifest.head.K, labelsFile);
  }

  const backboneFile = path(CHECKPOINT_FILES.backbone);
  const backboneBytes = await readRequired(folder, CHECKPOINT_FILES.backbone);
  validateBackbone(backboneBytes, manifest, backboneFile);
  const backbone = new Uint8Array(backboneBytes.buffer, backboneBytes.byteOffset, backboneBytes.byteLength);

  const headFile = path(CHECKPOINT_FILES.head);
  const weights = validateWeights(await readRequired(folder, CHECKPOINT_FILES.head), manifest, headFile);

  const text = manifest.task === 'zero-shot' ? await loadTextFiles(folder, manifest) : undefined;
  return { dir: root, manifest, backbone, weights, labels, ...(text ? { text } : {}) };
}

/** A JSON object file of the folder; `optional`: undefined when the file does not exist. */
async function readJsonObject(folder: Folder, name: string, optional = false): Promise<Record<string, unknown> | undefined> {
  const file = join(folder.dir, name);
  let bytes: Buffer;
  try {
    bytes = await readRequired(folder, name);
  } catch (e) {
    if (optional && e instanceof CheckpointError && e.problem === 'missing file') return undefined;
    throw e;
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new CheckpointError(file, `not valid JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CheckpointError(file, 'must be a JSON object');
  return value as Record<string, unknown>;
}

/**
 * tokenizer.json (with tokenizer_config.json when present) and text.onnx of a zero-shot
 * checkpoint: the tokenizer must load, and the tower must have the manifest's inputs and output
 * and, if its prompt length is static, the tokenizer's context length.
 */
async function loadTextFiles(folder: Folder, manifest: Manifest): Promise<NonNullable<Checkpoint['text']>> {
  const json = (await readJsonObject(folder, CHECKPOINT_FILES.tokenizer))!;
  const config = await readJsonObject(folder, CHECKPOINT_FILES.tokenizerConfig, true);
  let tokenizer: PromptTokenizer;
  try {
    tokenizer = new PromptTokenizer(json, { ...(config ? { config } : {}), contextLength: manifest.zeroShot?.text?.contextLength });
  } catch (e) {
    if (e instanceof TokenizerError) throw new CheckpointError(join(folder.dir, e.file), e.message);
    throw new CheckpointError(join(folder.dir, CHECKPOINT_FILES.tokenizer), `not a usable Hugging Face tokenizer: ${(e as Error).message}`);
  }
  const towerBytes = await readRequired(folder, CHECKPOINT_FILES.text);
  const { sequenceLength } = validateTextTower(towerBytes, manifest, join(folder.dir, CHECKPOINT_FILES.text), tokenizer.contextLength);
  const tower = new Uint8Array(towerBytes.buffer, towerBytes.byteOffset, towerBytes.byteLength);
  return { tower, tokenizer, ...(sequenceLength !== undefined ? { sequenceLength } : {}) };
}

/**
 * Subfolders of `modelsDir` that look like checkpoints (hold manifest.json or any other
 * checkpoint file), as absolute paths sorted by name; names starting with '.' are skipped.
 * Folders holding only some files are listed, so that loadCheckpoint can say what is missing.
 * A symlink to a folder outside `modelsDir` is listed without looking into it, so that
 * loadCheckpoint (with options.modelsDir) refuses it visibly instead of it vanishing.
 */
export async function listCheckpointDirs(modelsDir: string): Promise<string[]> {
  const root = resolve(modelsDir);
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(root, code === 'ENOENT' ? 'models folder not found' : `cannot list models folder (${code})`);
  }
  const realRoot = await realpath(root);
  const names = Object.values(CHECKPOINT_FILES) as string[];
  const found: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith('.')) continue;
    const full = join(root, entry.name);
    let isDir = entry.isDirectory();
    if (entry.isSymbolicLink()) {
      isDir = await stat(full).then((s) => s.isDirectory(), () => false);
      if (isDir && !isInside(await realpath(full), realRoot)) {
        found.push(full);
        continue;
      }
    }
    if (!isDir) continue;
    const files = await readdir(full).catch(() => [] as string[]);
    if (files.some((f) => names.includes(f))) found.push(full);
  }
  return found;
}
