#!/usr/bin/python3
"""The PyTorch fixture of test/pipelines/torchvision.test.ts and test/image/torchvision-resize.test.ts.

Writes test/fixtures/torchvision/:
  torchvision-squeezenet/   a checkpoint folder: torchvision's squeezenet1_1 (random weights, seed 0,
                            its classifier replaced by the global average pooling, so its output is
                            the 512-d pre-logits; no BatchNorm, whose initial statistics would make
                            a random network's output hinge on pixel noise)
                            exported with torch.onnx.export under the tensor names "pixel_values" ->
                            "features"; a DET head from an nn.Linear(512, 10) (weight transposed to
                            edward2's [in, out] loc_layer/kernel); labels.txt; manifest.json with
                            torchvision's preprocessing (Resize(256, bilinear), CenterCrop(224),
                            ImageNet mean / std) and the tensor names
  photo-301x200.png,        photo-like RGB images of non-square sizes (upsampled and downsampled by
  photo-427x640.png         Resize(256); 301 x 200 has an odd crop margin, 385 - 224 = 161)
  pil/<image>-<kernel>.png  torchvision's Resize(256, kernel) + CenterCrop(224) of each image, 8-bit
  expected.json             torch's own transform + forward on each image (pre-logits and
                            probabilities), and the pre-logits of one formula-defined input tensor

Run from the repository root with Debian's packages (python3-torch python3-torchvision
python3-onnx python3-numpy python3-pil): /usr/bin/python3 scripts/make-torchvision-fixture.py
"""
import json
import struct
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "torchvision"
MODEL = OUT / "torchvision-squeezenet"
EXAMPLES = ["sneaker.png", "trouser.png", "shirt.png", "red-circle.png", "blue-circle.png"]
RESIZE, CROP, D, K = 256, 224, 512, 10
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
KERNELS = {
    "nearest": InterpolationMode.NEAREST,
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "lanczos3": InterpolationMode.LANCZOS,
}


def photo(width: int, height: int, seed: int) -> Image.Image:
    """Smooth gradients, a few discs and fine stripes: edges and texture for the resize kernels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / width, y / height
    img = np.stack([0.2 + 0.6 * u, 0.3 + 0.5 * v, 0.5 + 0.3 * np.sin(6 * u + 4 * v)], axis=-1)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.05, 0.2) * min(width, height)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 1, 3)
    img += 0.15 * np.sin(x * 0.9)[..., None] * (v[..., None] > 0.6)
    return Image.fromarray(np.clip(np.round(img * 255), 0, 255).astype(np.uint8), "RGB")


def save_safetensors(path: Path, tensors: dict) -> None:
    """The safetensors format by hand (the safetensors package is not in Debian): F32, C order."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def rounded(values: torch.Tensor) -> list:
    """float32 values to 8 significant digits: exact enough, half the JSON."""
    return [float(f"{v:.8g}") for v in values.tolist()]


def formula_input() -> np.ndarray:
    """[1, 3, 224, 224]: sin(0.01 * (224 h + w) + c); the test computes the same tensor."""
    c, h, w = np.meshgrid(np.arange(3), np.arange(CROP), np.arange(CROP), indexing="ij")
    return np.sin(0.01 * (CROP * h + w) + c)[None].astype(np.float32)


def main() -> None:
    torch.manual_seed(0)
    backbone = torchvision.models.squeezenet1_1()
    # The classifier (dropout, 1x1 conv to 1000 classes, ReLU, pooling) becomes the pooling alone.
    backbone.classifier = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    backbone.eval()
    head = torch.nn.Linear(D, K)
    MODEL.mkdir(parents=True, exist_ok=True)
    (OUT / "pil").mkdir(exist_ok=True)

    torch.onnx.export(
        backbone, torch.zeros(1, 3, CROP, CROP), str(MODEL / "backbone.onnx"), opset_version=13,
        input_names=["pixel_values"], output_names=["features"],
        dynamic_axes={"pixel_values": {0: "batch"}, "features": {0: "batch"}},
    )
    # nn.Linear computes x @ weight.T + bias: edward2's kernel [in, out] is weight.T.
    save_safetensors(MODEL / "head.safetensors", {
        "loc_layer/kernel": head.weight.detach().numpy().T,
        "loc_layer/bias": head.bias.detach().numpy(),
    })
    (MODEL / "labels.txt").write_text("".join(f"class-{k}\n" for k in range(K)))
    manifest = {
        "formatVersion": 1,
        "name": MODEL.name,
        "description": "torchvision squeezenet1_1, random weights (seed 0), classifier = global average pooling; a random DET head. Test fixture.",
        "task": "classification",
        "untrained": True,
        "head": {"type": "det", "D": D, "K": K, "tau": 1},
        "input": {
            "height": CROP, "width": CROP, "channels": 3, "layout": "NCHW",
            "resize": "shorter-side-then-center-crop", "resizeSize": RESIZE, "kernel": "bilinear",
            "scale": 1 / 255, "mean": MEAN, "std": STD,
            "names": {"image": "pixel_values", "prelogits": "features"},
        },
        "mc": {},
        "provenance": {"generator": "scripts/make-torchvision-fixture.py", "torch": torch.__version__, "torchvision": torchvision.__version__, "seed": 0},
    }
    (MODEL / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    images = {name: Image.open(ROOT / "docs" / "examples" / name).convert("RGB") for name in EXAMPLES}
    for width, height, seed in [(301, 200, 1), (427, 640, 2)]:
        name = f"photo-{width}x{height}.png"
        photo(width, height, seed).save(OUT / name)
        images[name] = Image.open(OUT / name).convert("RGB")

    expected = {"images": {}}
    to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    with torch.no_grad():
        for name, img in images.items():
            for kernel, mode in KERNELS.items():
                crop = transforms.CenterCrop(CROP)(transforms.Resize(RESIZE, interpolation=mode)(img))
                crop.save(OUT / "pil" / f"{Path(name).stem}-{kernel}.png")
                if kernel == manifest["input"]["kernel"]:
                    phi = backbone(to_tensor(crop)[None])
                    probs = torch.softmax(head(phi), dim=-1)
                    expected["images"][name] = {"prelogits": rounded(phi[0]), "probs": rounded(probs[0])}
        expected["formulaPrelogits"] = rounded(backbone(torch.from_numpy(formula_input()))[0])
    (OUT / "expected.json").write_text(json.dumps(expected, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
