// The one error of the checkpoint format: a checkpoint that cannot be served, naming the file.

/** A checkpoint that cannot be served. `file` is the path of the offending file (or folder). */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}
