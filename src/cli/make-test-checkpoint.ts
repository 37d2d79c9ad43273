// npm run make-test-checkpoint -- --out <modelsDir>
// Writes the untrained HET-XL model of src/synthetic/default-model.ts (random weights,
// Fashion-MNIST shapes and labels) into <modelsDir>/hetxl-fashion-mnist-untrained. Not into
// models/ by default: that folder holds the trained models `npm start` serves.
// Deterministic: running it twice gives byte-identical files.
import { parseArgs } from 'node:util';
import { generateCheckpoint } from '../synthetic/random-checkpoint.ts';
import { defaultModelOptions } from '../synthetic/default-model.ts';
import { loadCheckpoint } from '../format/checkpoint.ts';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
if (!values.out) {
  console.error('usage: npm run make-test-checkpoint -- --out <modelsDir>   (then MODELS_DIR=<modelsDir> npm start)');
  process.exit(2);
}
const modelsDir = values.out;

const written = await generateCheckpoint(defaultModelOptions(modelsDir));
await loadCheckpoint(written.dir); // the loader's validation is the acceptance test
console.log(`wrote ${written.dir}: ${written.files.join(', ')}`);
