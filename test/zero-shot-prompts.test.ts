import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPrompts, fillTemplates, PromptError, PromptTokenizer, wordLevelTokenizerJson } from '../src/zeroshot/tokenizer.ts';

const tokenizer = new PromptTokenizer(wordLevelTokenizerJson(['a', 'photo', 'of', 'red', 'circle', 'blue', 'square']));
const limits = { maxLabels: 3, maxLabelLength: 20, maxTemplates: 2 };
const templates = ['a photo of a {label}'];

test('WordLevel tokenizer.json: lowercased, whitespace-split, unknown words reported', () => {
  assert.deepEqual(tokenizer.encode('A Red circle'), { ids: [2, 5, 6], unknownWords: [] });
  assert.deepEqual(tokenizer.encode('red hexagon'), { ids: [5, 1], unknownWords: ['hexagon'] });
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
