// npx tsx src/cli/results-zero-shot.ts CHECKPOINT_DIR...
// npx tsx src/cli/results-zero-shot.ts --breakdown CHECKPOINT_DIR
// Prints the Markdown tables of docs/results-zero-shot.md (src/training/zero-shot/results.ts):
// metrics over the given `npm run train-zero-shot` folders, or with --breakdown the per-pair
// table of one model through the served path.
import { pairBreakdown, resultTables } from '../training/zero-shot/results.ts';

const USAGE = 'usage: npx tsx src/cli/results-zero-shot.ts CHECKPOINT_DIR...  |  --breakdown CHECKPOINT_DIR';
const args = process.argv.slice(2);

if (args[0] === '--breakdown' ? args.length !== 2 : args.length === 0) {
  console.error(USAGE);
  process.exit(2);
}
console.log(args[0] === '--breakdown' ? await pairBreakdown(args[1]) : await resultTables(args));
