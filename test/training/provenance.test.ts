// Issue #17, item 8: model provenance must not show the build host's paths. The training code
// keeps paths as their last component (src/training/common/provenance.ts); the bundled manifests, written
// before that, were edited to match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDataFiles, FASHION_MNIST_FILES } from '../../src/training/fashion-mnist/data.ts';
import { portableProvenance, portableText } from '../../src/training/common/provenance.ts';

/** Every string inside `value`, with its JSON path. */
function strings(value: unknown, at = ''): [string, string][] {
  if (typeof value === 'string') return [[at, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${at}/${i}`));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => strings(v, `${at}/${k}`));
  return [];
}

/** An absolute path anywhere in the text (at its start, or after whitespace, '=' or a quote), or a home or temp folder. */
const HOST_PATH = /(^|[\s='"(])(\/|~)|\/home\/|\/tmp\/|\/usr\/|\/Users\/|[A-Za-z]:\\/;

test('portableText keeps only the last component of each absolute or home path', () => {
  assert.equal(portableText('npm run train-zero-shot -- --out /tmp/zs-runs/hetxl-s0/shapes-zero-shot --head het-xl --seed 0'), 'npm run train-zero-shot -- --out shapes-zero-shot --head het-xl --seed 0');
  assert.equal(portableText('--data=/home/ann/data/fashion-mnist/ --out ~/models/m'), '--data=fashion-mnist --out m');
  assert.equal(portableText('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'), 'train-images-idx3-ubyte.gz');
  // Relative paths, fractions and arrows are not host paths: left as they are.
  for (const text of ['hetxl-serve/src/zeroshot-train/shapes.ts (8 bits)', 'MLP 784 -> 128 ReLU -> 64 tanh', 'scale 1/255, a / b', '@tensorflow/tfjs 4.22.0']) {
    assert.equal(portableText(text), text);
  }
});

test('portableProvenance rewrites every string at any depth and nothing else', () => {
  const input = { command: 'npm run train -- --out /tmp/x/m', dataset: { dir: '/usr/share/datasets/fashion-mnist', files: [{ file: '/a/b.gz', bytes: 3 }] }, seed: 0, ok: true, none: null };
  assert.deepEqual(portableProvenance(input), { command: 'npm run train -- --out m', dataset: { dir: 'fashion-mnist', files: [{ file: 'b.gz', bytes: 3 }] }, seed: 0, ok: true, none: null });
  assert.equal(input.dataset.dir, '/usr/share/datasets/fashion-mnist', 'the input is not modified');
});

test('describeDataFiles names the data files by their file names, with size and SHA-256', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prov-'));
  try {
    await writeFile(join(dir, FASHION_MNIST_FILES.test.images), 'abc');
    await writeFile(join(dir, FASHION_MNIST_FILES.test.labels), '');
    assert.deepEqual(await describeDataFiles(dir, ['test']), [
      { file: 't10k-images-idx3-ubyte.gz', bytes: 3, sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
      { file: 't10k-labels-idx1-ubyte.gz', bytes: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('no string in a bundled manifest\'s provenance is or holds a host path', async () => {
  const models = await readdir('models');
  assert.ok(models.length >= 3);
  for (const name of models) {
    const manifest = JSON.parse(await readFile(join('models', name, 'manifest.json'), 'utf8')) as { provenance?: unknown };
    const found = strings(manifest.provenance);
    assert.ok(found.length > 0, `${name} has provenance`);
    for (const [at, text] of found) assert.doesNotMatch(text, HOST_PATH, `${name}: provenance${at} = ${JSON.stringify(text)}`);
  }
  // The rule can fail: the path the zero-shot manifest held before.
  assert.match('npm run train-zero-shot -- --out /tmp/zs-runs/hetxl-s0/shapes-zero-shot', HOST_PATH);
});
