"""The peer of issue #18: the FastAPI + uvicorn + PyTorch server a Python user would write for a
HET-XL checkpoint of this project (models/hetxl-fashion-mnist), to measure the fixed cost of a
request against. Not part of the server; bench/http.ts --peer starts it.

Same checkpoint files as the project reads: the backbone's weights from backbone.onnx (an MLP:
Flatten, Gemm, Relu, Gemm, Tanh, read with onnx.numpy_helper into a torch module), the head from
head.safetensors (its JSON header parsed by hand, the tensors read with numpy), the manifest's
`input` section for the preprocessing and `head` for tau and the minimum scale. Same route, query
options (mode, samples, seed, topK), multipart `image` parts and response shape as
POST /v1/models/:name/classify, and the statistics of docs/method.md. MC noise comes from
torch.Generator seeded with `seed`: statistically the same predictive, not the same numbers.

Preprocessing is PIL's: convert('L') (ITU-R 601 luma on the 8-bit values) where the project uses
libvips' b-w (Rec.709 on linear light); the two agree exactly on grey images (R = G = B), as the
Fashion-MNIST examples are, and bench/http.ts checks the mean-mode answers agree before measuring.

Debian packages (no PyPI): python3-fastapi python3-uvicorn python3-multipart python3-torch
python3-onnx python3-numpy python3-pil, and for uvicorn's fast paths python3-uvloop python3-httptools.

    python3 bench/peer/server.py --model-dir models/hetxl-fashion-mnist --port 8090 [--workers 2]
"""
import argparse
import asyncio.base_events
import io
import json
import os
import socket
import struct
import sys
from typing import List, Optional

import numpy as np
import onnx
import torch
from fastapi import FastAPI, File, HTTPException, Query, UploadFile
from onnx import numpy_helper
from PIL import Image


def _set_nodelay(sock: socket.socket) -> None:
    # uvicorn's multi-worker mode binds its own socket with proto 0, and asyncio only sets
    # TCP_NODELAY on sockets whose proto is IPPROTO_TCP: without this every keep-alive response
    # waits for the client's delayed ACK (~40 ms). The one-worker path already gets TCP_NODELAY.
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


asyncio.base_events._set_nodelay = _set_nodelay


def read_safetensors(path: str) -> dict:
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    body = data[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"]).copy())
    return tensors


class Backbone(torch.nn.Module):
    """backbone.onnx's MLP: Flatten -> Gemm -> Relu -> Gemm -> Tanh, weights from its initializers."""

    def __init__(self, onnx_path: str):
        super().__init__()
        graph = onnx.load(onnx_path).graph
        ops = [n.op_type for n in graph.node if n.op_type != "Identity"]
        if ops != ["Flatten", "Gemm", "Relu", "Gemm", "Tanh"]:
            raise ValueError(f"backbone.onnx is {ops}, not the MLP this peer was written for")
        init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
        gemms = [n for n in graph.node if n.op_type == "Gemm"]
        self.w1, self.b1 = init[gemms[0].input[1]], init[gemms[0].input[2]]
        self.w2, self.b2 = init[gemms[1].input[1]], init[gemms[1].input[2]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(torch.addmm(self.b1, x.flatten(1), self.w1))
        return torch.tanh(torch.addmm(self.b2, h, self.w2))


class HetXlHead:
    """Parameter-efficient HET-XL with independent diagonal noise (docs/method.md)."""

    def __init__(self, tensors: dict, head: dict):
        if head["type"] != "het-xl" or head.get("covariance", "param-efficient") != "param-efficient" or head.get("diagonalNoise", "independent") != "independent":
            raise ValueError("this peer serves parameter-efficient HET-XL heads with independent diagonal noise only")
        t = tensors
        self.W, self.b = t["loc_layer/kernel"], t["loc_layer/bias"]
        self.Wv, self.bv = t["scale_layer_heteroscedastic/kernel"], t["scale_layer_heteroscedastic/bias"]
        self.J, self.bJ = t["scale_layer_homoscedastic/kernel"], t["scale_layer_homoscedastic/bias"]
        self.Wd, self.bd = t["diag_layer/kernel"], t["diag_layer/bias"]
        self.tau = float(head["tau"])
        self.min_scale = float(head.get("minScale", 1e-3))
        self.R = self.J.shape[0]

    def mean(self, phi: torch.Tensor) -> torch.Tensor:
        return torch.softmax(torch.addmm(self.b, phi, self.W) / self.tau, dim=-1)

    def mc(self, phi: torch.Tensor, samples: int, seed: int) -> dict:
        B, D = phi.shape
        gen = torch.Generator().manual_seed(seed)
        eps_r = torch.randn(samples, self.R, generator=gen)
        eps_d = torch.randn(samples, D, generator=gen)
        d = torch.nn.functional.softplus(torch.addmm(self.bd, phi, self.Wd)) + self.min_scale
        v = torch.addmm(self.bv, phi, self.Wv)
        noise = v[:, None, :] * torch.addmm(self.bJ, eps_r, self.J)[None] + d[:, None, :] * eps_d[None]
        z = phi[:, None, :] + noise  # [B, S, D]
        p = torch.softmax((z @ self.W + self.b) / self.tau, dim=-1)  # [B, S, K]
        p64 = p.double()
        entropy_s = -(p64 * torch.log(p64.clamp_min(1e-300))).sum(-1)  # [B, S]
        return {"probs": p64.mean(1), "std": p64.std(1, unbiased=False), "expected_entropy": entropy_s.mean(1), "argmax": p.argmax(-1)}


def entropy(p: np.ndarray) -> float:
    q = p[p > 0]
    return float(-(q * np.log(q)).sum())


def top(values: np.ndarray, k: int) -> List[int]:
    # By decreasing value, ties by the lower index (a stable sort of the negated values).
    return list(np.argsort(-values, kind="stable")[:k])


def create_app() -> FastAPI:
    """The app for the model folder in PEER_MODEL_DIR (each uvicorn worker builds its own)."""
    model_dir = os.environ.get("PEER_MODEL_DIR", "models/hetxl-fashion-mnist")
    manifest = json.load(open(os.path.join(model_dir, "manifest.json")))
    labels = open(os.path.join(model_dir, "labels.txt")).read().splitlines()
    spec = manifest["input"]
    if spec["channels"] != 1 or spec.get("layout", "NCHW") != "NCHW":
        raise SystemExit("this peer preprocesses 1-channel NCHW inputs only")
    backbone = Backbone(os.path.join(model_dir, "backbone.onnx"))
    head = HetXlHead(read_safetensors(os.path.join(model_dir, "head.safetensors")), manifest["head"])
    K = manifest["head"]["K"]
    # The same arithmetic as src/image/normalise.ts: one float per 8-bit level, (v * scale - mean) / std in doubles.
    levels = torch.tensor([(v * spec["scale"] - spec["mean"][0]) / spec["std"][0] for v in range(256)], dtype=torch.float32)
    app = FastAPI()

    def preprocess(data: bytes) -> torch.Tensor:
        try:
            image = Image.open(io.BytesIO(data))
            image = image.convert("L").resize((spec["width"], spec["height"]), Image.LANCZOS)
        except Exception as error:
            raise HTTPException(400, f"could not decode the image ({error})")
        pixels = torch.from_numpy(np.asarray(image, dtype=np.uint8).astype(np.int64))
        return levels[pixels][None]  # [1, H, W]

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.post("/v1/models/{name}/classify")
    async def classify(
        name: str,
        image: List[UploadFile] = File(...),
        mode: str = Query("mc"),
        samples: int = Query(manifest["mc"]["defaultSamples"], ge=1, le=manifest["mc"]["maxSamples"]),
        seed: int = Query(0, ge=0, le=2**32 - 1),
        topK: int = Query(5, ge=1, le=K),
        estimator: Optional[str] = Query(None),
    ):
        if name != manifest["name"]:
            raise HTTPException(404, f"no model {name}")
        if mode not in ("mean", "mc"):
            raise HTTPException(400, "mode must be mean or mc")
        x = torch.stack([preprocess(await part.read()) for part in image])  # [B, 1, H, W]
        with torch.inference_mode():
            phi = backbone(x)
            if mode == "mean":
                return {"model": name, "mode": mode, "provider": "cpu", "predictions": [mean_prediction(p, labels, topK) for p in head.mean(phi).double().numpy()]}
            result = head.mc(phi, samples, seed)
        predictions = [mc_prediction(result, b, samples, labels, topK) for b in range(phi.shape[0])]
        return {"model": name, "mode": mode, "provider": "cpu", "predictions": predictions, "samples": samples, "seed": seed, "estimator": estimator or "plain"}

    return app


def mean_prediction(p: np.ndarray, labels: List[str], k: int) -> dict:
    first, second = top(p, 2)
    classes = [{"index": int(c), "label": labels[c], "probability": float(p[c])} for c in top(p, k)]
    return {"classes": classes, "statistics": {"predictiveEntropy": entropy(p), "maxProbability": float(p[first]), "margin": float(p[first] - p[second])}}


def mc_prediction(result: dict, b: int, samples: int, labels: List[str], k: int) -> dict:
    # float32 probabilities and std, as the project's response has them; statistics in doubles.
    p = result["probs"][b].numpy().astype(np.float32).astype(np.float64)
    std = result["std"][b].numpy().astype(np.float32)
    first, second = top(p, 2)
    counts = np.bincount(result["argmax"][b].numpy(), minlength=len(labels))
    h = entropy(p)
    expected = float(result["expected_entropy"][b])
    classes = [
        {"index": int(c), "label": labels[c], "probability": float(p[c]), "std": float(std[c]), "stdError": float(np.float32(std[c] / np.sqrt(samples)))}
        for c in top(p, k)
    ]
    statistics = {
        "predictiveEntropy": h,
        "maxProbability": float(p[first]),
        "margin": float(p[first] - p[second]),
        "expectedEntropy": expected,
        "mutualInformation": max(h - expected, 0.0),
        "variationRatio": float(1 - counts.max() / samples),
    }
    return {"classes": classes, "statistics": statistics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default="models/hetxl-fashion-mnist")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    import uvicorn

    # The workers import this module by name and read the model folder from the environment.
    os.environ["PEER_MODEL_DIR"] = args.model_dir
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    uvicorn.run("server:create_app", factory=True, host=args.host, port=args.port, workers=args.workers, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
