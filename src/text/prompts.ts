// The checks a zero-shot request's labels and templates must pass before any text-tower work,
// and the filling of templates with labels. The tokenizer itself is the checkpoint's
// (src/format/tokenizer.ts).

import { LABEL_PLACEHOLDER } from '../format/manifest.ts';
import type { PromptTokenizer } from '../format/tokenizer.ts';

/** A request's labels or templates failed a check; code and message say which and why (HTTP 400). */
export class PromptError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A label or template as quoted in a message: its first 40 characters. */
const clip = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

export interface PromptLimits {
  maxLabels: number;
  /** Longest label or template, in characters. */
  maxLabelLength: number;
  maxTemplates: number;
  /** Most prompt tokens of a request, labels x templates x tokens (promptTokenBound). */
  maxPromptTokens: number;
}

/**
 * Checks labels and templates: 1..maxLabels labels, no duplicates, none longer than
 * maxLabelLength characters, each with at least one known word (a label of unknown words only
 * would embed as [UNK] and match arbitrarily); no two labels with the same token ids (they would
 * embed identically and split their probability between them); 1..maxTemplates templates, each
 * containing {label} and no longer than maxLabelLength, whose prompts fit the context length
 * (checkPromptLength); at most maxPromptTokens prompt tokens in all (promptTokenBound), so the
 * text-tower work is bounded before it starts. Returns warnings for words the tokenizer does not
 * know in labels that pass and in templates: they embed as [UNK], which the caller should hear
 * of (none from byte-level tokenizers, which have no unknown words).
 */
export function checkPrompts(labels: readonly string[], templates: readonly string[], tokenizer: PromptTokenizer, limits: PromptLimits): string[] {
  const warnings: string[] = [];
  const fail = (code: string, message: string): never => {
    throw new PromptError(code, message);
  };
  if (labels.length === 0) fail('NO_LABELS', 'labels: give at least one label');
  if (labels.length > limits.maxLabels) fail('TOO_MANY_LABELS', `labels: ${labels.length} labels, at most ${limits.maxLabels} allowed (MAX_ZERO_SHOT_LABELS)`);
  const seen = new Set<string>();
  // Token ids -> the first label with them: labels that differ only in what the tokenizer
  // normalises away (case, for the demo's lowercasing one; or unknown words, all [UNK]).
  const byIds = new Map<string, string>();
  let labelTokens = 0;
  let longestLabel = { label: '', tokens: 0 };
  for (const label of labels) {
    if (seen.has(label)) fail('DUPLICATE_LABEL', `labels: duplicate label "${clip(label)}"`);
    seen.add(label);
    if (label.length > limits.maxLabelLength) {
      fail('LABEL_TOO_LONG', `labels: "${clip(label)}" is ${label.length} characters, at most ${limits.maxLabelLength} allowed (MAX_LABEL_LENGTH)`);
    }
    const { ids, unknownWords, allUnknown } = tokenizer.encode(label);
    if (ids.length === 0) fail('EMPTY_LABEL', `labels: "${clip(label)}" contains no words`);
    if (allUnknown) {
      fail('UNKNOWN_WORDS', `labels: "${clip(label)}" has only words the text tower does not know: ${unknownWords.join(', ')}`);
    }
    const key = ids.join(' ');
    const twin = byIds.get(key);
    if (twin !== undefined) {
      const why = unknownWords.length > 0 ? 'after its normalisation (e.g. lowercasing), with unknown words all read as [UNK]' : 'after its normalisation (e.g. lowercasing)';
      fail('DUPLICATE_LABEL', `labels: "${clip(twin)}" and "${clip(label)}" are the same tokens to the text tower ${why}, so they would get identical embeddings; keep one`);
    }
    byIds.set(key, label);
    labelTokens += ids.length;
    if (ids.length > longestLabel.tokens) longestLabel = { label, tokens: ids.length };
    if (unknownWords.length > 0) warnings.push(`label "${clip(label)}": words the text tower does not know: ${unknownWords.join(', ')}`);
  }
  if (templates.length === 0) fail('NO_TEMPLATES', 'templates: give at least one template or leave the field out');
  if (templates.length > limits.maxTemplates) fail('TOO_MANY_TEMPLATES', `templates: ${templates.length} templates, at most ${limits.maxTemplates} allowed (MAX_ZERO_SHOT_TEMPLATES)`);
  let templateTokens = 0;
  let placeholders = 0;
  for (const template of templates) {
    if (!template.includes(LABEL_PLACEHOLDER)) fail('TEMPLATE_WITHOUT_LABEL', `templates: "${clip(template)}" does not contain ${LABEL_PLACEHOLDER}`);
    if (template.length > limits.maxLabelLength) {
      fail('TEMPLATE_TOO_LONG', `templates: "${clip(template)}" is ${template.length} characters, at most ${limits.maxLabelLength} allowed (MAX_LABEL_LENGTH)`);
    }
    const pieces = template.split(LABEL_PLACEHOLDER);
    const { ids, unknownWords } = tokenizer.encode(pieces.join(' '));
    templateTokens += ids.length;
    placeholders += pieces.length - 1;
    checkPromptLength(template, ids.length + (pieces.length - 1) * longestLabel.tokens, longestLabel.label, tokenizer);
    if (unknownWords.length > 0) warnings.push(`template "${clip(template)}": words the text tower does not know: ${unknownWords.join(', ')}`);
  }
  const tokens = promptTokenBound(labels.length, labelTokens, templateTokens, placeholders);
  if (tokens > limits.maxPromptTokens) {
    fail(
      'TOO_MANY_PROMPT_TOKENS',
      `labels x templates: up to ${tokens} prompt tokens (${labels.length} labels x ${templates.length} templates), at most ${limits.maxPromptTokens} allowed (MAX_ZERO_SHOT_PROMPT_TOKENS); send fewer or shorter labels or templates`,
    );
  }
  return warnings;
}

/**
 * Refuses a template whose prompt with the longest label would not fit the text tower's context
 * length with the tokenizer's special tokens (CLIP: 77 with <|startoftext|> and <|endoftext|>):
 * prompts are refused, not truncated (a cut prompt would be compared as a different text). The
 * count is per template and label, as promptTokenBound's.
 */
function checkPromptLength(template: string, contentTokens: number, label: string, tokenizer: PromptTokenizer): void {
  const { contextLength, contextLengthSource, specialTokens } = tokenizer;
  if (contextLength === undefined || contentTokens + specialTokens <= contextLength) return;
  throw new PromptError(
    'PROMPT_TOO_LONG',
    `templates: "${clip(template)}" with the label "${clip(label)}" is ${contentTokens + specialTokens} tokens${specialTokens > 0 ? ` (${specialTokens} of them special)` : ''}, ` +
      `longer than the text tower's context length of ${contextLength} (${contextLengthSource}); use a shorter template or label`,
  );
}

/**
 * Tokens of all labels x templates prompts, from counts taken once per label and per template
 * instead of tokenising every prompt: each template gives its own tokens (placeholders read as
 * spaces) to every label, and each of its {label}s one copy of the label's tokens. For a
 * word-level tokenizer with a whitespace pre-tokeniser (the demo's) this is an upper bound:
 * filling in a label can only merge words at a placeholder's edges ("{label}s"), never split
 * one. For subword tokenizers it is an estimate: a word cut at a placeholder may take a piece
 * more or fewer.
 */
export function promptTokenBound(labels: number, labelTokens: number, templateTokens: number, placeholders: number): number {
  return labels * templateTokens + labelTokens * placeholders;
}

/**
 * The prompts for one label: each template with every {label} replaced by the label, literally
 * (split/join, not replaceAll with a string, which would read `$&`, `$'` and `` $` `` in a
 * label as replacement patterns).
 */
export function fillTemplates(label: string, templates: readonly string[]): string[] {
  return templates.map((t) => t.split(LABEL_PLACEHOLDER).join(label));
}
