// The MC head's working memory stays under its budget for S = 10,000 at K = 29,593 (issue #4).
// Run in a child process so that the measurement (the rise of the resident-set high-water mark
// during the request, see test/helpers/mc-memory-child.ts) sees this request only.
// D = 64 instead of the paper's 1024: the chunked [B, Sc, K] tensors, the memory this bounds,
// do not depend on D, and D = 1024 would make the run ~15x longer (600 GFLOP).
// Without chunking one [10,000 x 29,593] float tensor alone would be 1.18 GB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHILD = new URL('../helpers/mc-memory-child.ts', import.meta.url).pathname;
const MB = 1024 * 1024;

async function measure(K: number, D: number, R: number, samples: number, batch: number, budgetMB: number) {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--expose-gc', CHILD, ...[K, D, R, samples, batch, budgetMB].map(String)], {
    maxBuffer: MB,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as {
    workingMemoryBytes: number;
    chunks: number;
    largestChunk: number;
    argmaxCount: number;
    probabilitySum: number;
  };
}

// /proc/self/clear_refs (resetting the high-water mark) is Linux-only.
const linux = process.platform === 'linux' && existsSync('/proc/self/clear_refs');

for (const [budgetMB, batch] of [[512, 1], [128, 2]]) {
  test(`S = 10,000 at K = 29,593, batch ${batch}: working memory under a ${budgetMB} MB budget`, { skip: !linux && 'needs Linux /proc' }, async () => {
    const result = await measure(29593, 64, 8, 10_000, batch, budgetMB);
    assert.equal(result.argmaxCount, 10_000);
    assert.ok(Math.abs(result.probabilitySum - 1) < 1e-4, `sum of p_hat ${result.probabilitySum}`);
    assert.ok(result.chunks > 1, `${result.chunks} chunks`);
    assert.ok(result.workingMemoryBytes <= budgetMB * MB, `working memory ${(result.workingMemoryBytes / MB).toFixed(0)} MB > budget ${budgetMB} MB`);
    // The bound is not vacuous: the head did use a good part of what it was allowed.
    assert.ok(result.workingMemoryBytes >= 0.1 * budgetMB * MB, `working memory ${(result.workingMemoryBytes / MB).toFixed(0)} MB`);
    console.log(`budget ${budgetMB} MB, batch ${batch}: ${result.chunks} chunks of <= ${result.largestChunk}, working memory ${(result.workingMemoryBytes / MB).toFixed(0)} MB`);
  });
}
