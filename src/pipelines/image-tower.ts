// The image side of every model: sharp preprocessing as the manifest says, then backbone.onnx.
// Images in, one embedding (the pre-logits phi, or a zero-shot model's image embedding) per image out.
import { backboneNames, type InputSpec } from '../format/manifest.ts';
import { createSession, floatTensor, type EngineOptions, type ExecutionProvider, type Session } from '../engine/session.ts';
import { preprocessImages } from '../image/preprocess.ts';

export class ImageTower {
  private constructor(
    private readonly input: InputSpec,
    private readonly session: Session,
    private readonly maxImagePixels: number,
  ) {}

  static async create(backbone: Uint8Array, input: InputSpec, engine: EngineOptions, maxImagePixels: number): Promise<ImageTower> {
    return new ImageTower(input, await createSession(backbone, engine), maxImagePixels);
  }

  get provider(): ExecutionProvider {
    return this.session.provider;
  }

  /**
   * Encoded images -> the backbone's input tensor data. Throws ImageError for bad images, and the
   * signal's AbortError once it is aborted (checked before each image is decoded).
   */
  preprocess(images: Buffer[], signal?: AbortSignal): Promise<Float32Array> {
    return preprocessImages(images, this.input, { maxInputPixels: this.maxImagePixels, signal });
  }

  /** Zero pixels for one image: what warm-up runs. */
  blankPixels(): Float32Array {
    return new Float32Array(this.input.height * this.input.width * this.input.channels);
  }

  /** Preprocessed input [batch, ...input shape] -> embeddings, row-major [batch, D]. */
  async embed(pixels: Float32Array, batch: number): Promise<Float32Array> {
    const { height, width, channels, layout } = this.input;
    const dims = layout === 'NCHW' ? [batch, channels, height, width] : [batch, height, width, channels];
    // The names the loader checked backbone.onnx for (input.names, or image and prelogits).
    const tensors = backboneNames(this.input);
    const out = await this.session.run({ [tensors.image]: floatTensor(pixels, dims) });
    const phi = out[tensors.prelogits];
    if (!phi) throw new Error(`backbone produced no '${tensors.prelogits}' output`);
    return phi.data as Float32Array;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
