// npx tsx src/cli/zero-shot-examples.ts [OUT_DIR]                              (default docs/examples)
// npx tsx src/cli/zero-shot-examples.ts --predict MODEL_DIR [EXAMPLES_DIR]
// Writes the two sample PNGs of the zero-shot docs (src/training/zero-shot/examples.ts), or
// prints the served model's top-5 labels for each, mean mode and MC.
import { predictExamples, writeExamples } from '../training/zero-shot/examples.ts';

if (process.argv[2] === '--predict') await predictExamples(process.argv[3], process.argv[4] ?? 'docs/examples');
else await writeExamples(process.argv[2] ?? 'docs/examples');
