// Contrastive training experiment on the shapes data (tfjs wasm): image MLP and bag-of-words text
// tower, symmetric InfoNCE over the batch with a learned temperature, optionally HET-XL noise on
// the image embedding (S = 8 MC samples, average of softmaxes inside the log, as method.md), then
// zero-shot accuracy and NLL over all 28 "a {colour shape}" prompts on seen and held-out pairs.
// Usage: npx tsx src/zeroshot-train/experiment.ts hetxl|nonoise STEPS
// Not yet the shipped trainer: it exports no checkpoint (see docs/results-zero-shot.md).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { generateShapes, allLabels, captionVocabulary, isHeldOut, COLOUR_NAMES, SHAPE_NAMES } from './shapes.ts';
import { PromptTokenizer, wordLevelTokenizerJson } from '../zeroshot/tokenizer.ts';

const NOISE = process.argv[2] === 'hetxl';
const STEPS = Number(process.argv[3] ?? 400);
await tf.setBackend('wasm'); await tf.ready();
const vocab = captionVocabulary();
const tok = new PromptTokenizer(wordLevelTokenizerJson(vocab));
const V = vocab.length + 2, W = 32, E = 32, H = 128, R = 4, S = 8, B = 64, L = 12;
const train = generateShapes(6000, 1, 'train');
const encode = (caps: string[]) => {
  // mean-pool as a [B, V] bag-of-words matrix (wasm has no Gather gradient); equals Gather + masked mean
  const bow = new Float32Array(caps.length * V);
  caps.forEach((c, b) => { const ids = tok.encode(c).ids; ids.forEach((id) => (bow[b * V + id] += 1 / ids.length)); });
  return tf.tensor2d(bow, [caps.length, V]);
};
const init = (shape: number[], scale: number) => tf.variable(tf.randomNormal(shape, 0, scale, 'float32', 7));
const w1 = init([3072, H], 1 / Math.sqrt(3072)), b1 = tf.variable(tf.zeros([H])), w2 = init([H, E], 1 / Math.sqrt(H));
const table = init([V, W], 0.3), proj = init([W, E], 1 / Math.sqrt(W));
const vf = init([E, R], 0.01), dRaw = tf.variable(tf.fill([E], -3)), logTau = tf.variable(tf.scalar(Math.log(0.1)));
const imageEmb = (x: tf.Tensor) => tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2);
const textEmb = (ids: tf.Tensor2D) => {
  return tf.matMul(tf.matMul(ids, table), proj);
};
const l2 = (x: tf.Tensor) => tf.div(x, tf.norm(x, 'euclidean', -1, true).add(1e-8));
const opt = tf.train.adam(0.003);
const vars = [w1, b1, w2, table, proj, logTau, ...(NOISE ? [vf, dRaw] : [])];
for (let step = 0; step < STEPS; step++) {
  const start = (step * B) % (6000 - B);
  const loss = opt.minimize(() => {
    const x = tf.tensor2d(train.images.subarray(start * 3072, (start + B) * 3072), [B, 3072]);
    const t = l2(textEmb(encode(train.captions.slice(start, start + B))));
    const z = imageEmb(x);
    const tau = tf.exp(logTau);
    const labels = tf.oneHot(tf.range(0, B, 1, 'int32'), B);
    const probsI: tf.Tensor[] = [], probsT: tf.Tensor[] = [];
    const samples = NOISE ? S : 1;
    for (let s = 0; s < samples; s++) {
      const zs = NOISE ? z.add(tf.matMul(tf.randomNormal([B, R]), vf, false, true)).add(tf.mul(tf.softplus(dRaw), tf.randomNormal([B, E]))) : z;
      const logits = tf.div(tf.matMul(l2(zs), t, false, true), tau);
      probsI.push(tf.softmax(logits)); probsT.push(tf.softmax(tf.transpose(logits)));
    }
    const nll = (ps: tf.Tensor[]) => tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.log(tf.addN(ps).div(samples).add(1e-9))), 1)));
    return tf.div(tf.add(nll(probsI), nll(probsT)), 2) as tf.Scalar;
  }, true, vars)!;
  if (step % 100 === 0) console.log(step, (await loss.data())[0].toFixed(3), 'tau', Math.exp((await logTau.data())[0]).toFixed(3));
  loss.dispose();
}
// Zero-shot eval over the 28 labels, template "a {label}", mean mode and MC (S=32)
const labels = allLabels();
const tl = l2(textEmb(encode(labels.map((l) => `a ${l}`))));
for (const split of ['train', 'heldout'] as const) {
  const data = generateShapes(1000, 99, split);
  const z = imageEmb(tf.tensor2d(data.images, [1000, 3072]));
  const tau = tf.exp(logTau);
  const truth = data.scenes.map((s) => COLOUR_NAMES.indexOf(s.colour) * SHAPE_NAMES.length + SHAPE_NAMES.indexOf(s.shape));
  const report = async (name: string, p: tf.Tensor) => {
    const probs = await p.array() as number[][];
    let acc = 0, nll = 0;
    probs.forEach((row, i) => { if (row.indexOf(Math.max(...row)) === truth[i]) acc++; nll -= Math.log(row[truth[i]] + 1e-12); });
    console.log(NOISE ? 'hetxl' : 'nonoise', split === 'train' ? 'seen' : 'held-out', name, 'acc', (acc / 1000).toFixed(3), 'nll', (nll / 1000).toFixed(3));
  };
  await report('mean', tf.softmax(tf.div(tf.matMul(l2(z), tl, false, true), tau)));
  if (NOISE) {
    const ps: tf.Tensor[] = [];
    for (let s = 0; s < 32; s++) ps.push(tf.softmax(tf.div(tf.matMul(l2(z.add(tf.matMul(tf.randomNormal([1000, R]), vf, false, true)).add(tf.mul(tf.softplus(dRaw), tf.randomNormal([1000, E])))), tl, false, true), tau)));
    await report('mc32', tf.addN(ps).div(32));
  }
}
console.log('chance', (1 / 28).toFixed(3));
