// npm run make-test-checkpoint [-- --out <modelsDir>]
// Writes the bundled untrained default model (src/checkpoints/default-model.ts) into models/.
// Deterministic: running it twice gives byte-identical files.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCheckpoint } from '../checkpoints/generate.ts';
import { defaultModelOptions } from '../checkpoints/default-model.ts';
import { loadCheckpoint } from '../runtime/checkpoint.ts';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const modelsDir = values.out ?? fileURLToPath(new URL('../../models', import.meta.url));

const written = await generateCheckpoint(defaultModelOptions(modelsDir));
await loadCheckpoint(written.dir); // the loader's validation is the acceptance test
console.log(`wrote ${written.dir}: ${written.files.join(', ')}`);
