// The one error of the converters: an input that cannot become a checkpoint. The message names the
// file and the key or field at fault; the CLI prints it and exits non-zero.

export class ConvertError extends Error {
  override readonly name = 'ConvertError';
}
