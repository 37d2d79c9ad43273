// npx tsx src/cli/results-zero-shot.ts CHECKPOINT_DIR...                 served path, every renderer
// npx tsx src/cli/results-zero-shot.ts --runs CHECKPOINT_DIR...          tfjs vs served, from evaluation.json
// npx tsx src/cli/results-zero-shot.ts --breakdown RENDERER CHECKPOINT_DIR
// Prints the Markdown tables of docs/results-zero-shot.md (src/training/zero-shot/results.ts):
// the given zero-shot folders through the served path on the classic, varied and SVG test scenes;
// with --runs the figures that `npm run train-zero-shot` wrote; with --breakdown the per-pair table
// of one model on one renderer (classic, varied or svg).
import { RENDERERS, type Renderer } from '../training/zero-shot/evaluation-sets.ts';
import { pairBreakdown, runTables, servedTables } from '../training/zero-shot/results.ts';

const USAGE = 'usage: npx tsx src/cli/results-zero-shot.ts CHECKPOINT_DIR...  |  --runs CHECKPOINT_DIR...  |  --breakdown classic|varied|svg CHECKPOINT_DIR';
const [first, ...rest] = process.argv.slice(2);

if (first === '--breakdown') {
  if (rest.length !== 2 || !RENDERERS.includes(rest[0] as Renderer)) {
    console.error(USAGE);
    process.exit(2);
  }
  console.log(await pairBreakdown(rest[1], rest[0] as Renderer));
} else if (first === '--runs') {
  if (rest.length === 0) {
    console.error(USAGE);
    process.exit(2);
  }
  console.log(await runTables(rest));
} else {
  if (first === undefined || first.startsWith('--')) {
    console.error(USAGE);
    process.exit(2);
  }
  console.log(await servedTables([first, ...rest]));
}
