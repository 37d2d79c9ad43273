// Uncertainty-quality metrics against hand-computed values and against brute-force float64
// references (test/evaluate/reference.ts): AUROC with ties and its undefined cases, selective
// prediction and AURC with ties at the cut, score orientation, flipped-label detection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auroc, averageRanks, flippedLabelDetection, scoreColumns, selectivePrediction, uncertaintyQuality } from '../../src/evaluate/uncertainty-quality.ts';
import { mulberry32 } from '../reference/heads.ts';
import { pairwiseAuroc, selectiveByEnumeration } from './reference.ts';

const close = (a: number | null | undefined, b: number, msg: string, tol = 1e-12) => assert.ok(typeof a === 'number' && Math.abs(a - b) < tol, `${msg}: ${a} vs ${b}`);

test('average ranks give tied values the mean of the ranks they span', () => {
  assert.deepEqual([...averageRanks([3, 1, 3, 2])], [3.5, 1, 3.5, 2]);
  assert.deepEqual([...averageRanks([5, 5, 5])], [2, 2, 2]);
});

test('AUROC on hand-computed examples, ties counting half', () => {
  // Pairs (positive, negative): 0.35 > 0.1, 0.35 < 0.4, 0.8 > 0.1, 0.8 > 0.4 -> 3 / 4.
  close(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75, 'no ties');
  // 2 > 1, 2 = 2 (half), 3 > 1, 3 > 2 -> 3.5 / 4.
  close(auroc([1, 2, 2, 3], [0, 1, 0, 1]), 0.875, 'one tie');
  close(auroc([7, 7, 7, 7], [1, 0, 1, 0]), 0.5, 'all tied');
  close(auroc([0.9, 0.8, 0.1], [true, true, false]), 1, 'perfect');
  close(auroc([0.1, 0.8, 0.9], [1, 0, 0]), 0, 'reversed');
});

test('AUROC is null (undefined), not 0.5, without positives or without negatives; bad input is refused', () => {
  assert.equal(auroc([0.1, 0.2], [0, 0]), null, 'no positives (e.g. every prediction correct)');
  assert.equal(auroc([0.1, 0.2], [1, 1]), null, 'no negatives');
  assert.equal(auroc([], []), null, 'empty');
  assert.throws(() => auroc([0.1], [0, 1]), /1 scores for 2 labels/);
  assert.throws(() => auroc([0.1, Number.NaN], [0, 1]), /NaN/);
});

test('AUROC equals the pairwise count on random scores with many ties', () => {
  const next = mulberry32(4);
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + Math.floor(next() * 60);
    const scores = Array.from({ length: n }, () => Math.floor(next() * 6) / 5); // 6 levels: many ties
    const positive = Array.from({ length: n }, () => (next() < 0.3 ? 1 : 0));
    const reference = pairwiseAuroc(scores, positive);
    const got = auroc(scores, positive);
    if (reference === null) assert.equal(got, null);
    else close(got, reference, `trial ${trial}`);
  }
});

test('selective prediction on a hand-computed example without ties', () => {
  // Most certain first: correct 1, 1, 0, 1. Accuracy of the first k: 1, 1, 2/3, 3/4.
  // As given: uncertainty 0.3 (wrong), 0.1, 0.4, 0.2 -> sorted 0.1 (1), 0.2 (1), 0.3 (0), 0.4 (1).
  const s = selectivePrediction([0.3, 0.1, 0.4, 0.2], [0, 1, 1, 1]);
  close(s.accuracyAtCoverage['0.5'], 1, 'coverage 0.5: k = 2');
  close(s.accuracyAtCoverage['0.8'], 2 / 3, 'coverage 0.8: k = round(3.2) = 3');
  close(s.accuracyAtCoverage['0.9'], 3 / 4, 'coverage 0.9: k = round(3.6) = 4');
  // Risks 0, 0, 1/3, 1/4 -> AURC = (7/12) / 4.
  close(s.aurc, 7 / 48, 'aurc');
});

test('selective prediction takes a tied group at the cut in proportion, whatever the input order', () => {
  // Sorted: 0.1 (right), then 0.2 twice (one right, one wrong), 0.5 (wrong).
  // First k: k = 1: 1; k = 2: 1 + 1/2 = 1.5; k = 3: 2; k = 4: 2. Risks 0, 1/4, 1/3, 1/2.
  const a = selectivePrediction([0.1, 0.2, 0.2, 0.5], [1, 1, 0, 0]);
  const b = selectivePrediction([0.2, 0.5, 0.1, 0.2], [0, 0, 1, 1]);
  close(a.accuracyAtCoverage['0.5'], 0.75, 'coverage 0.5 cuts the tie');
  close(a.aurc, 13 / 48, 'aurc');
  assert.deepEqual(a, b, 'same figures for another order of the same examples');
  assert.throws(() => selectivePrediction([], []), /0 scores/);
  assert.throws(() => selectivePrediction([0.1, Number.NaN], [1, 0]), /score 1 is NaN/);
});

test('selective prediction equals the average over every tie order (brute force), on random small sets', () => {
  const next = mulberry32(9);
  for (let trial = 0; trial < 25; trial++) {
    const n = 1 + Math.floor(next() * 7);
    const uncertainty = Array.from({ length: n }, () => Math.floor(next() * 3));
    const correct = Array.from({ length: n }, () => (next() < 0.6 ? 1 : 0));
    const reference = selectiveByEnumeration(uncertainty, correct);
    const got = selectivePrediction(uncertainty, correct, [0.5, 0.8, 0.9, 1]);
    close(got.aurc, reference.aurc, `trial ${trial} aurc`, 1e-12);
    for (const c of [0.5, 0.8, 0.9, 1]) close(got.accuracyAtCoverage[String(c)], reference.accuracyAt(Math.max(1, Math.round(c * n))), `trial ${trial} coverage ${c}`);
  }
});

test('score columns: uncertain-when-high orientation, and a score only when every prediction has it', () => {
  const mean = [
    { maxProbability: 0.9, predictiveEntropy: 0.3, margin: 0.8 },
    { maxProbability: 0.5, predictiveEntropy: 1.1, margin: 0.1 },
  ];
  const columns = scoreColumns(mean);
  assert.deepEqual(Object.keys(columns).sort(), ['margin', 'maxProbability', 'predictiveEntropy']);
  assert.deepEqual([...columns.maxProbability!], [-0.9, -0.5]);
  assert.deepEqual([...columns.margin!], [-0.8, -0.1]);
  assert.deepEqual([...columns.predictiveEntropy!], [0.3, 1.1]);
  const mixed = scoreColumns([{ ...mean[0], mutualInformation: 0.01 }, mean[1]]);
  assert.equal(mixed.mutualInformation, undefined, 'mutual information missing from one prediction');
  assert.equal(scoreColumns([{ ...mean[0], mutualInformation: 0.01 }]).mutualInformation![0], 0.01);
});

test('uncertainty quality per score; all correct gives a null AUROC that survives JSON', () => {
  // Example 2 is wrong and the least confident on every score.
  const stats = [
    { maxProbability: 0.95, predictiveEntropy: 0.2, margin: 0.9, mutualInformation: 0.01 },
    { maxProbability: 0.4, predictiveEntropy: 1.2, margin: 0.05, mutualInformation: 0.3 },
    { maxProbability: 0.8, predictiveEntropy: 0.6, margin: 0.6, mutualInformation: 0.3 },
  ];
  const q = uncertaintyQuality(scoreColumns(stats), [1, 0, 1]);
  close(q.maxProbability!.misclassificationAuroc, 1, 'max probability');
  close(q.margin!.misclassificationAuroc, 1, 'margin');
  // Mutual information ties the error with one correct example: (1 + 0.5) / 2.
  close(q.mutualInformation!.misclassificationAuroc, 0.75, 'mutual information with a tie');
  // k = round(1.5) = 2 most certain are both correct; all 3: 2/3.
  close(q.predictiveEntropy!.accuracyAtCoverage['0.5'], 1, 'coverage 0.5');
  close(q.predictiveEntropy!.aurc, (0 + 0 + 1 / 3) / 3, 'aurc');
  const allCorrect = uncertaintyQuality(scoreColumns(stats), [1, 1, 1]);
  assert.equal(allCorrect.maxProbability!.misclassificationAuroc, null);
  close(allCorrect.maxProbability!.aurc, 0, 'no risk at any coverage');
  assert.equal(JSON.parse(JSON.stringify(allCorrect)).maxProbability.misclassificationAuroc, null);
});

test('flipped-label detection: each score and 1 - p(given label)', () => {
  const stats = [
    { maxProbability: 0.9, predictiveEntropy: 0.3, margin: 0.8 },
    { maxProbability: 0.6, predictiveEntropy: 0.9, margin: 0.3 },
    { maxProbability: 0.7, predictiveEntropy: 0.7, margin: 0.5 },
    { maxProbability: 0.5, predictiveEntropy: 1.0, margin: 0.1 },
  ];
  const flipped = [0, 1, 0, 1];
  const d = flippedLabelDetection(scoreColumns(stats), flipped, [0.9, 0.2, 0.6, 0.1]);
  close(d.maxProbability, 1, 'max probability');
  close(d.predictiveEntropy, 1, 'entropy');
  close(d.givenLabelProbability, 1, 'given label');
  assert.equal(d.mutualInformation, undefined, 'no mutual information in mean mode');
  // A given label that looks right on the flipped examples: p = 0.95 on both flipped ones.
  close(flippedLabelDetection({}, flipped, [0.9, 0.95, 0.6, 0.95]).givenLabelProbability, 0, 'reversed');
  assert.equal(flippedLabelDetection({}, [0, 0], [0.5, 0.5]).givenLabelProbability, null, 'nothing flipped');
});
