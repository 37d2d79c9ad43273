#!/usr/bin/python3
"""The stand-in for a real CLIP of test/convert/clip*.test.ts and test/http/zero-shot-clip.test.ts.

Writes test/fixtures/clip/:
  tokenizer/tokenizer.json         a CLIP tokenizer in exactly the structure Hugging Face writes for
                                   openai/clip-vit-*: NFC + whitespace + lowercase normaliser, CLIP's
                                   split regex then ByteLevel pre-tokeniser, byte-level BPE with the
                                   "</w>" word-end suffix (the 256 byte symbols, the same with "</w>",
                                   the merges' results, then <|startoftext|> and <|endoftext|> last),
                                   RobertaProcessing post-processor; merges learnt here from a small
                                   word list instead of CLIP's 48,894
  tokenizer/tokenizer_config.json  as CLIPTokenizer saves it: model_max_length 77, pad_token
                                   <|endoftext|>
  image.onnx                       a small ViT (8 x 8 patches of a 32 x 32 image, one block, class-token
                                   pooling, projection): pixel_values -> image_embeds (+ last_hidden_state),
                                   as optimum / CLIPVisionModelWithProjection exports name them
  text.onnx                        a small CLIP text transformer (causal, attention_mask, 2 blocks,
                                   end-of-text pooling at argmax(input_ids), projection): input_ids,
                                   attention_mask -> text_embeds (+ last_hidden_state), batch and
                                   length dynamic, as optimum exports CLIPTextModelWithProjection
  text-static.onnx                 the same weights exported as open_clip's encode_text is: token ids
                                   alone under the name "text", a static length of 77, no mask (pads
                                   0), output "text_features"
  input.json                       CLIP's preprocessing for the 32 x 32 crop (bicubic resize of the
                                   shorter side, centre crop, CLIP's mean and std) with the tensor names
  expected.json                    logit_scale; for each test prompt its ids by OpenAI's own BPE
                                   algorithm (simple_tokenizer.py's bpe(), re-implemented here) and
                                   torch's text_embeds of the 77-padded row; torch's image_embeds of
                                   one formula-defined pixel tensor

Deterministic (seed 0). Run from the repository root with Debian's python3-torch, python3-onnx and
python3-numpy: /usr/bin/python3 scripts/make-clip-fixture.py
"""
import json
import math
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "clip"
CONTEXT = 77
WIDTH, HEADS, TEXT_LAYERS, EMBED = 32, 4, 2, 16
IMAGE, PATCH = 32, 8
MEAN, STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
LOGIT_SCALE = math.log(100.0)  # CLIP clamps its learned logit_scale here
SOT, EOT = "<|startoftext|>", "<|endoftext|>"
WORDS = ("a photo of the this is red green blue yellow circle square triangle cross star small large "
         "on black white grey background drawing picture shape cats dogs").split()
MERGES = 120
PROMPTS = ["a photo of a red circle.", "This is a photo of a blue square.", "a drawing of a yellow star",
           "cats", "a photo of a hexagon!", "GREEN   triangle"]


def bytes_to_unicode() -> dict:
    """GPT-2 / CLIP's reversible byte -> printable character map (simple_tokenizer.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def learn_merges(words: list, count: int) -> list:
    """Plain BPE training on the word list: the most frequent adjacent pair (ties: the smaller pair) each round."""
    corpus = [list(w[:-1]) + [w[-1] + "</w>"] for w in words]
    merges = []
    for _ in range(count):
        pairs = {}
        for word in corpus:
            for pair in zip(word, word[1:]):
                pairs[pair] = pairs.get(pair, 0) + 1
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for i, word in enumerate(corpus):
            out, j = [], 0
            while j < len(word):
                if j + 1 < len(word) and (word[j], word[j + 1]) == best:
                    out.append(word[j] + word[j + 1])
                    j += 2
                else:
                    out.append(word[j])
                    j += 1
            corpus[i] = out
    return merges


def make_tokenizer() -> tuple:
    byte_encoder = bytes_to_unicode()
    symbols = list(byte_encoder.values())
    merges = learn_merges(WORDS * 3, MERGES)
    vocab_list = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [SOT, EOT]
    vocab = {token: i for i, token in enumerate(vocab_list)}
    special = lambda content, normalized: {"id": vocab[content], "content": content, "single_word": False, "lstrip": False,
                                           "rstrip": False, "normalized": normalized, "special": True}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(SOT, True), special(EOT, False)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"},
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
             "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": [EOT, vocab[EOT]], "cls": [SOT, vocab[SOT]],
                           "trim_offsets": False, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": EOT, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    config = {"add_prefix_space": False, "bos_token": SOT, "do_lower_case": True, "eos_token": EOT, "errors": "replace",
              "model_max_length": CONTEXT, "pad_token": EOT, "tokenizer_class": "CLIPTokenizer", "unk_token": EOT}
    return tokenizer, config, vocab, merges, byte_encoder


def openai_bpe_ids(text: str, vocab: dict, merges: list, byte_encoder: dict) -> list:
    """OpenAI's simple_tokenizer.py encode() (ASCII prompts: its \\p{L} / \\p{N} classes as [a-z] / [0-9]), with SOT / EOT."""
    ranks = {m: i for i, m in enumerate(merges)}
    text = re.sub(r"\s+", " ", text).strip().lower()
    ids = [vocab[SOT]]
    for token in re.findall(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+", text):
        word = [byte_encoder[b] for b in token.encode("utf-8")]
        word = word[:-1] + [word[-1] + "</w>"]
        while len(word) > 1:
            pairs = [(word[i], word[i + 1]) for i in range(len(word) - 1)]
            best = min(pairs, key=lambda p: ranks.get(p, math.inf))
            if best not in ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        ids += [vocab[piece] for piece in word]
    return ids + [vocab[EOT]]


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    """A pre-LayerNorm transformer block as CLIP's (attention written out, so that it exports plainly)."""

    def __init__(self) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
        self.qkv, self.out = nn.Linear(WIDTH, 3 * WIDTH), nn.Linear(WIDTH, WIDTH)
        self.fc1, self.fc2 = nn.Linear(WIDTH, 4 * WIDTH), nn.Linear(4 * WIDTH, WIDTH)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, n, 3, HEADS, WIDTH // HEADS).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(WIDTH // HEADS) + bias, dim=-1)
        x = x + self.out((attn @ v).transpose(1, 2).reshape(b, n, WIDTH))
        return x + self.fc2(quick_gelu(self.fc1(self.ln2(x))))


class TextTower(nn.Module):
    """CLIP's text transformer: causal self-attention, final LayerNorm, the end-of-text token's state, projection."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab_size, WIDTH)
        self.position = nn.Parameter(torch.randn(CONTEXT, WIDTH) * 0.1)
        self.blocks = nn.ModuleList(Block() for _ in range(TEXT_LAYERS))
        self.ln = nn.LayerNorm(WIDTH)
        self.projection = nn.Linear(WIDTH, EMBED, bias=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor = None):
        n = input_ids.shape[1]
        x = self.token(input_ids) + self.position[:n]
        bias = torch.triu(torch.full((n, n), -1e9), diagonal=1)[None, None]
        if attention_mask is not None:
            bias = bias + (1.0 - attention_mask[:, None, None, :].float()) * -1e9
        for block in self.blocks:
            x = block(x, bias)
        x = self.ln(x)
        # The end-of-text token has the largest id: argmax finds it (the first one, should pads be EOT too).
        eot = (torch.arange(n)[None, :] == input_ids.argmax(dim=-1)[:, None]).float()
        return self.projection((eot[:, :, None] * x).sum(dim=1)), x


class ImageTower(nn.Module):
    """A ViT as CLIP's: patch embedding, class token, pre-LayerNorm, one block, the class token's state, projection."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, WIDTH, PATCH, stride=PATCH, bias=False)
        self.cls = nn.Parameter(torch.randn(WIDTH) * 0.1)
        self.position = nn.Parameter(torch.randn((IMAGE // PATCH) ** 2 + 1, WIDTH) * 0.1)
        self.ln_pre, self.ln_post = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
        self.block = Block()
        self.projection = nn.Linear(WIDTH, EMBED, bias=False)

    def forward(self, pixel_values: torch.Tensor):
        x = self.patch(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, WIDTH), x], dim=1) + self.position
        x = self.block(self.ln_pre(x), torch.zeros(1))
        return self.projection(self.ln_post(x[:, 0])), x


class OpenClipText(nn.Module):
    """open_clip's encode_text: token ids alone (pads 0), a fixed length."""

    def __init__(self, tower: TextTower) -> None:
        super().__init__()
        self.tower = tower

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.tower(text)[0]


def formula_pixels() -> np.ndarray:
    """[1, 3, 32, 32]: sin(0.05 * (32 h + w) + c); the test computes the same tensor."""
    c, h, w = np.meshgrid(np.arange(3), np.arange(IMAGE), np.arange(IMAGE), indexing="ij")
    return np.sin(0.05 * (IMAGE * h + w) + c)[None].astype(np.float32)


def rounded(values: torch.Tensor) -> list:
    return [float(f"{v:.8g}") for v in values.tolist()]


def main() -> None:
    torch.manual_seed(0)
    tokenizer, config, vocab, merges, byte_encoder = make_tokenizer()
    (OUT / "tokenizer").mkdir(parents=True, exist_ok=True)
    (OUT / "tokenizer" / "tokenizer.json").write_text(json.dumps(tokenizer, indent=2, ensure_ascii=False) + "\n")
    (OUT / "tokenizer" / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")

    text, image = TextTower(len(vocab)).eval(), ImageTower().eval()
    ids = torch.tensor([[vocab[SOT], 5, 6, vocab[EOT]] + [vocab[EOT]] * 3] * 2)
    torch.onnx.export(text, (ids, torch.ones_like(ids)), str(OUT / "text.onnx"), opset_version=14,
                      input_names=["input_ids", "attention_mask"], output_names=["text_embeds", "last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                                    "text_embeds": {0: "batch"}, "last_hidden_state": {0: "batch", 1: "sequence"}})
    torch.onnx.export(OpenClipText(text), torch.zeros(2, CONTEXT, dtype=torch.long), str(OUT / "text-static.onnx"), opset_version=14,
                      input_names=["text"], output_names=["text_features"],
                      dynamic_axes={"text": {0: "batch"}, "text_features": {0: "batch"}})
    torch.onnx.export(image, torch.zeros(2, 3, IMAGE, IMAGE), str(OUT / "image.onnx"), opset_version=14,
                      input_names=["pixel_values"], output_names=["image_embeds", "last_hidden_state"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}, "last_hidden_state": {0: "batch"}})
    input_spec = {"height": IMAGE, "width": IMAGE, "channels": 3, "layout": "NCHW", "resize": "shorter-side-then-center-crop",
                  "resizeSize": IMAGE, "kernel": "bicubic", "scale": 1 / 255, "mean": MEAN, "std": STD,
                  "names": {"image": "pixel_values", "prelogits": "image_embeds"}}
    (OUT / "input.json").write_text(json.dumps(input_spec, indent=2) + "\n")

    expected = {"logitScale": LOGIT_SCALE, "contextLength": CONTEXT, "prompts": {}}
    with torch.no_grad():
        for prompt in PROMPTS:
            prompt_ids = openai_bpe_ids(prompt, vocab, merges, byte_encoder)
            row = prompt_ids + [vocab[EOT]] * (CONTEXT - len(prompt_ids))
            mask = [1] * len(prompt_ids) + [0] * (CONTEXT - len(prompt_ids))
            embeds = text(torch.tensor([row]), torch.tensor([mask]))[0][0]
            expected["prompts"][prompt] = {"ids": prompt_ids, "textEmbeds": rounded(embeds)}
        expected["formulaImageEmbeds"] = rounded(image(torch.from_numpy(formula_pixels()))[0][0])
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
