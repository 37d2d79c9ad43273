import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPrompts, fillTemplates, PromptError } from '../../src/text/prompts.ts';
import { PromptTokenizer, wordLevelTokenizerJson } from '../../src/format/tokenizer.ts';

const tokenizer = new PromptTokenizer(wordLevelTokenizerJson(['a', 'photo', 'of', 'red', 'circle', 'blue', 'square']));
const limits = { maxLabels: 3, maxLabelLength: 20, maxTemplates: 2, maxPromptTokens: 1000 };
const templates = ['a photo of a {label}'];

test('WordLevel tokenizer.json: lowercased, whitespace-split, unknown words reported', () => {
  assert.deepEqual(tokenizer.encode('A Red circle'), { ids: [2, 5, 6], unknownWords: [], allUnknown: false });
  assert.deepEqual(tokenizer.encode('red hexagon'), { ids: [5, 1], unknownWords: ['hexagon'], allUnknown: false });
  assert.deepEqual(tokenizer.encode('   ').ids, []);
});

test('good labels and templates pass with no warnings; templates are filled per label', () => {
  assert.deepEqual(checkPrompts(['red circle', 'blue square'], templates, tokenizer, limits), []);
  assert.deepEqual(fillTemplates('red circle', ['a {label}', '{label}']), ['a red circle', 'red circle']);
});

const bad: Array<[string, string[], string[], string, RegExp]> = [
  ['no labels', [], templates, 'NO_LABELS', /at least one label/],
  ['duplicate labels', ['red circle', 'red circle'], templates, 'DUPLICATE_LABEL', /duplicate label "red circle"/],
  ['over-long label', ['red circle red circle red'], templates, 'LABEL_TOO_LONG', /at most 20/],
  ['too many labels', ['red', 'blue', 'circle', 'square'], templates, 'TOO_MANY_LABELS', /4 labels, at most 3/],
  ['label with no words', ['  '], templates, 'EMPTY_LABEL', /contains no words/],
  ['label of unknown words only', ['green hexagon'], templates, 'UNKNOWN_WORDS', /does not know: green, hexagon/],
  ['template without placeholder', ['red circle'], ['a photo'], 'TEMPLATE_WITHOUT_LABEL', /does not contain \{label\}/],
  ['no templates', ['red circle'], [], 'NO_TEMPLATES', /at least one template/],
  ['too many templates', ['red circle'], ['{label}', 'a {label}', 'of {label}'], 'TOO_MANY_TEMPLATES', /3 templates, at most 2/],
  ['over-long template', ['red circle'], ['a photo of a photo of {label}'], 'TEMPLATE_TOO_LONG', /at most 20/],
];
for (const [name, labels, temps, code, message] of bad) {
  test(`refused: ${name}`, () => {
    assert.throws(
      () => checkPrompts(labels, temps, tokenizer, limits),
      (e: unknown) => e instanceof PromptError && e.code === code && message.test(e.message),
    );
  });
}

test('unknown words in a label that has known ones, or in a template, pass with a warning naming them', () => {
  assert.deepEqual(checkPrompts(['red hexagon', 'blue square'], ['a drawing {label}'], tokenizer, limits), [
    'label "red hexagon": words the text tower does not know: hexagon',
    'template "a drawing {label}": words the text tower does not know: drawing',
  ]);
});

test('templates are filled literally: $ patterns in labels and templates stay as written', () => {
  // String.replaceAll with a string replacement reads $&, $`, $' and $$ in it as patterns.
  const labels = ['a$&b', "x$`y$'z", 'cost $$5'];
  const fill = ['{label} $& {label}', "$` {label} $' $$"];
  assert.deepEqual(fillTemplates(labels[0], fill), ['a$&b $& a$&b', "$` a$&b $' $$"]);
  assert.deepEqual(fillTemplates(labels[1], fill), ["x$`y$'z $& x$`y$'z", "$` x$`y$'z $' $$"]);
  assert.deepEqual(fillTemplates(labels[2], fill), ['cost $$5 $& cost $$5', "$` cost $$5 $' $$"]);
});

test('labels with the same tokens (differing in case, or only in unknown words) are duplicates, named with the reason', () => {
  const same = (labels: string[], pattern: RegExp) =>
    assert.throws(
      () => checkPrompts(labels, templates, tokenizer, limits),
      (e: unknown) => e instanceof PromptError && e.code === 'DUPLICATE_LABEL' && pattern.test(e.message),
    );
  same(['red circle', 'Red Circle'], /"red circle" and "Red Circle" are the same tokens to the text tower after its normalisation \(e\.g\. lowercasing\), so they would get identical embeddings/);
  same(['red  circle', 'red circle'], /"red {2}circle" and "red circle" are the same tokens/);
  same(['red hexagon', 'red pentagon', 'blue'], /"red hexagon" and "red pentagon" .*unknown words all read as \[UNK\]/);
  assert.deepEqual(checkPrompts(['red circle', 'red square'], templates, tokenizer, limits), []);
});

test('prompt tokens are bounded before tokenising any prompt: the count from per-label and per-template counts', () => {
  // 3 labels of 2 tokens, templates of 3 and 0 tokens of their own with 2 and 1 placeholders:
  // 3 x (3 + 0) + (2 + 2 + 2) x (2 + 1) = 27 tokens, and exactly that many once filled.
  const labels = ['red circle', 'blue square', 'red square'];
  const temps = ['a photo of {label} {label}', '{label}'];
  const filled = labels.flatMap((l) => fillTemplates(l, temps)).reduce((n, p) => n + tokenizer.encode(p).ids.length, 0);
  assert.equal(filled, 27);
  assert.deepEqual(checkPrompts(labels, temps, tokenizer, { ...limits, maxLabelLength: 30, maxPromptTokens: 27 }), []);
  assert.throws(
    () => checkPrompts(labels, temps, tokenizer, { ...limits, maxLabelLength: 30, maxPromptTokens: 26 }),
    (e: unknown) =>
      e instanceof PromptError &&
      e.code === 'TOO_MANY_PROMPT_TOKENS' &&
      e.message === 'labels x templates: up to 27 prompt tokens (3 labels x 2 templates), at most 26 allowed (MAX_ZERO_SHOT_PROMPT_TOKENS); send fewer or shorter labels or templates',
  );
  // Placeholders next to words merge them ("{label}s"), so the filled prompts can only be shorter.
  const merged = ['{label}{label}of'];
  const actual = labels.flatMap((l) => fillTemplates(l, merged)).reduce((n, p) => n + tokenizer.encode(p).ids.length, 0);
  assert.equal(actual, 9);
  assert.throws(() => checkPrompts(labels, merged, tokenizer, { ...limits, maxPromptTokens: 14 }), /up to 15 prompt tokens/);
});
