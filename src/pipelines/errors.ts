// The errors a served model throws for bad input, in one place for whoever maps them to a
// protocol (src/http/errors.ts maps them to 4xx): an undecodable or oversized image, a zero-shot
// request's labels or templates that fail a check. Anything else a model throws is a server fault.
export { ImageError, isImageError, type ImageErrorCode } from '../image/errors.ts';
export { PromptError } from '../text/prompts.ts';
