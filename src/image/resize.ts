// The resize of the manifest's `input` (docs/checkpoint-format.md) as sharp steps: one resize,
// then, for torchvision's Resize(resizeSize) + CenterCrop((height, width)), one extract.
import type sharp from 'sharp';
import type { InputSpec, ResizeKernel } from '../format/manifest.ts';

/** What 'pad' fills with; preprocess.ts flattens alpha onto the same black. */
export const BLACK = { r: 0, g: 0, b: 0, alpha: 1 };

/** torchvision's InterpolationMode (PIL's filters) -> sharp's kernel of the same family. */
const SHARP_KERNELS: Record<ResizeKernel, keyof sharp.KernelEnum> = {
  nearest: 'nearest',
  bilinear: 'linear',
  bicubic: 'cubic', // Catmull-Rom, PIL's BICUBIC (a = -0.5)
  lanczos3: 'lanczos3',
};

export interface ResizeSteps {
  resize: sharp.ResizeOptions;
  /** The centre crop after the resize, when there is one. */
  extract?: sharp.Region;
}

/** Python's round() of n / 2 for an integer n: halves go to the even neighbour (torchvision's CenterCrop uses it). */
function roundHalfOfInteger(n: number): number {
  const lower = Math.floor(n / 2);
  return n % 2 === 0 || lower % 2 === 0 ? lower : lower + 1;
}

/**
 * The sharp steps that turn an image of width x height (after EXIF orientation) into
 * spec.height x spec.width pixels. Without `kernel`, sharp's default (lanczos3) and the options
 * every earlier checkpoint got, so their pixels do not change.
 */
export function resizeSteps(spec: InputSpec, width: number, height: number): ResizeSteps {
  const kernel = spec.kernel ? { kernel: SHARP_KERNELS[spec.kernel] } : {};
  const size = { width: spec.width, height: spec.height, ...kernel };
  switch (spec.resize) {
    case 'stretch':
      return { resize: { ...size, fit: 'fill' } };
    case 'center-crop':
      return { resize: { ...size, fit: 'cover', position: 'centre' } };
    case 'pad':
      return { resize: { ...size, fit: 'contain', position: 'centre', background: BLACK } };
    case 'shorter-side-then-center-crop': {
      // torchvision 0.14 _compute_resized_output_size: the shorter side becomes resizeSize, the
      // longer int(resizeSize * long / short). The loader has checked resizeSize >= the crop.
      const target = spec.resizeSize!;
      const long = Math.trunc((target * Math.max(width, height)) / Math.min(width, height));
      const [resizeWidth, resizeHeight] = width <= height ? [target, long] : [long, target];
      return {
        // fastShrinkOnLoad off: libvips would otherwise decode JPEGs at 1/2, 1/4 or 1/8 size
        // first, which PIL (torchvision's decoder) does not.
        resize: { width: resizeWidth, height: resizeHeight, fit: 'fill', fastShrinkOnLoad: false, ...kernel },
        // CenterCrop: top = round((H - h) / 2), left = round((W - w) / 2).
        extract: {
          left: roundHalfOfInteger(resizeWidth - spec.width),
          top: roundHalfOfInteger(resizeHeight - spec.height),
          width: spec.width,
          height: spec.height,
        },
      };
    }
  }
}
