// Errors for images a client sent that we cannot or will not turn into a tensor.
// The HTTP layer maps `code` to a status; `index` says which image of the batch was at fault.

export const IMAGE_ERROR_CODES = ['IMAGE_EMPTY', 'IMAGE_UNDECODABLE', 'IMAGE_TOO_LARGE', 'IMAGE_ASPECT_RATIO'] as const;

/**
 * IMAGE_EMPTY: the buffer has zero bytes (usually a form field with no file in it).
 * IMAGE_UNDECODABLE: not an image, a format we do not accept, or truncated/corrupt pixel data.
 * IMAGE_TOO_LARGE: width x height of the (first frame of the) image is over the pixel limit.
 * IMAGE_ASPECT_RATIO: longest side over shortest side is over MAX_ASPECT_RATIO (too elongated to
 * resize); the HTTP layer answers it as INVALID_IMAGE, like IMAGE_UNDECODABLE.
 */
export type ImageErrorCode = (typeof IMAGE_ERROR_CODES)[number];

export class ImageError extends Error {
  override readonly name = 'ImageError';
  readonly code: ImageErrorCode;
  /** Zero-based position of the image in the batch. */
  readonly index: number;

  constructor(code: ImageErrorCode, index: number, detail: string, options?: { cause?: unknown }) {
    // Message is meant to be shown to API clients as is, so it names the image by index.
    super(`image ${index}: ${detail}`, options);
    this.code = code;
    this.index = index;
  }
}

export function isImageError(err: unknown): err is ImageError {
  return err instanceof ImageError;
}
