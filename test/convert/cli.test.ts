// `npm run convert -- edward2 ...` end to end: the command of docs/conversion.md on the committed
// example (test/convert/fixtures/example/), run as a process; its exit codes for a refusal (1)
// and a usage error (2).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { caseWeights, EXAMPLE_CASE, expectedSpec } from './edward2-inputs.ts';
import { runCli } from '../helpers/cli.ts';

const EXAMPLE = 'test/convert/fixtures/example';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'convert-cli-'));
});
after(() => rm(scratch, { recursive: true, force: true }));

const convert = (args: string[]) => runCli('src/cli/convert.ts', args);

const exampleArgs = (out: string, overrides: Record<string, string> = {}) => {
  const flags: Record<string, string> = {
    params: `${EXAMPLE}/params.npz`,
    'head-config': `${EXAMPLE}/head-config.json`,
    backbone: `${EXAMPLE}/backbone.onnx`,
    labels: `${EXAMPLE}/labels.txt`,
    input: `${EXAMPLE}/input.json`,
    out,
    name: 'example-het-xl',
    ...overrides,
  };
  return ['edward2', ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v])];
};

test("the guide's command converts the committed example; the folder loads with the example's head", async () => {
  const out = join(scratch, 'models');
  const { code, stdout, stderr } = await convert(exampleArgs(out));
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^wrote .*example-het-xl \(manifest\.json, backbone\.onnx, head\.safetensors, labels\.txt\)$/m);
  assert.match(stdout, /from MCSigmoidDenseFA, subtree params\/multilabel_head/);
  assert.match(stdout, /head: type het-xl, K = 5, D = 6, R = 3, link sigmoid, covariance param-efficient, diagonalNoise shared/);
  assert.match(stdout, /tau = 1\.81\d+ \(learned: pre_sigmoid_temperature t = 0\.25, bounds \[0\.3, 3\]\)/);
  assert.match(stdout, /mc\.defaultSamples = 500 \(test_mc_samples\)/);
  assert.match(stdout, /serve it with: MODELS_DIR=.* npm start/);
  const checkpoint = await loadCheckpoint(join(out, 'example-het-xl'));
  const spec = expectedSpec(EXAMPLE_CASE);
  assert.ok(Math.abs(checkpoint.manifest.head.tau - spec.tau) < 1e-12);
  for (const [name, tensor] of caseWeights(EXAMPLE_CASE)) assert.deepEqual(checkpoint.weights.get(name), tensor, `the committed example's ${name}`);
});

test('a refusal exits 1 with the message on stderr and writes nothing', async () => {
  const out = join(scratch, 'refused');
  const { code, stdout, stderr } = await convert(exampleArgs(out, { params: `${EXAMPLE}/labels.txt` }));
  assert.equal(code, 1, stdout);
  assert.match(stderr, /^convert: .*labels\.txt: is not an \.npz archive/m);
  assert.deepEqual(await readdir(out).catch(() => []), []);
});

test('usage errors exit 2 with the usage', async () => {
  const missing = await convert(['edward2', '--params', 'x.npz']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /convert: missing --head-config, --backbone, --labels, --input, --out, --name/);
  assert.match(missing.stderr, /usage: npm run convert -- edward2/);
  const unknown = await convert(exampleArgs(scratch).map((a) => (a === 'edward2' ? 'pytorch' : a)));
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /the first argument names the source format: edward2, clip \(got 'pytorch'\)/);
});
