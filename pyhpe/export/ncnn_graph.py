"""Reading and writing ncnn models (.param text + .bin weights) as plain Python data.

Enough of ncnn's formats for graph rewrites (pyhpe.export.ncnn_fuse):

- ``.param``: magic ``7767517``, ``<layers> <blobs>``, then one line per layer:
  ``Type name n_bottoms n_tops bottoms... tops... k=v ...`` (array values ``-23300=n,a,b,...``).
  Parameters are kept as the strings they were written with, so untouched layers are written
  back unchanged.
- ``.bin``: every layer's arrays, in layer order, with no index. ``load(n, type=0)`` arrays start
  with a 4-byte tag (0: float32; 0x01306B47: float16, padded to 4 bytes; ...), ``type=1`` arrays
  are raw float32. Which arrays a layer reads depends on its type and parameters
  (:data:`WEIGHTLESS` and :func:`_weight_arrays`); a type this module does not know stops the
  parse with a clear error rather than a misplaced offset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = "7767517"
TAG_FP32, TAG_FP16, TAG_INT8, TAG_FP32_SCALED = 0, 0x01306B47, 0x000D4B38, 0x0002C056

# Layer types that read nothing from the .bin.
WEIGHTLESS = frozenset([
    "Input", "Split", "Slice", "Concat", "GELU", "BinaryOp", "UnaryOp", "Pooling", "Reshape",
    "Permute", "Softmax", "Flatten", "ReLU", "Sigmoid", "HardSigmoid", "HardSwish", "Swish",
    "Mish", "Clip", "Interp", "Reduction", "MatMul", "Eltwise", "Crop", "Padding", "Noop",
    "Dropout", "Packing", "Cast", "Squeeze", "ExpandDims", "TanH", "ELU", "Exp", "Log", "Power",
    "Threshold", "Tile", "GridSample",
    "PyhpeSplit",  # pyhpe's unpacked Split (csrc/runtime/src/split_layer.h)
    "PyhpeWiden",  # any storage to fp32 (csrc/runtime/src/widen_layer.h)
])


class NcnnFormatError(ValueError):
    """A .param/.bin this module cannot read (malformed, or a layer type it does not know)."""


@dataclass
class Layer:
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[str, str] = field(default_factory=dict)  # "0" -> "64", "-23300" -> "4,16,16,16,16"
    weights: list[bytes] = field(default_factory=list)    # the layer's .bin arrays, byte-exact

    def int_param(self, key: int, default: int | None = None) -> int:
        value = self.params.get(str(key))
        if value is None:
            if default is None:
                raise NcnnFormatError(f"layer {self.name} ({self.type}) has no parameter {key}")
            return default
        try:
            return int(value)
        except ValueError:
            raise NcnnFormatError(f"layer {self.name}: parameter {key}={value} is not an integer") from None

    def float_param(self, key: int, default: float) -> float:
        value = self.params.get(str(key))
        return default if value is None else float(value)

    def line(self) -> str:
        head = f"{self.type:<24} {self.name:<24} {len(self.bottoms)} {len(self.tops)}"
        return " ".join([head, *self.bottoms, *self.tops, *(f"{k}={v}" for k, v in self.params.items())])


def parse_param(text: str, source: str = ".param") -> list[Layer]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != MAGIC:
        raise NcnnFormatError(f"{source}: not an ncnn .param file (magic {MAGIC} missing)")
    try:
        n_layers, _ = (int(v) for v in lines[1].split())
    except (IndexError, ValueError):
        raise NcnnFormatError(f"{source}: line 2 must be '<layer count> <blob count>'") from None
    layers = []
    for i, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        try:
            n_in, n_out = int(parts[2]), int(parts[3])
        except (IndexError, ValueError):
            raise NcnnFormatError(f"{source}:{i}: malformed layer line") from None
        if len(parts) < 4 + n_in + n_out:
            raise NcnnFormatError(f"{source}:{i}: fewer blob names than declared")
        params = {}
        for tok in parts[4 + n_in + n_out:]:
            key, sep, value = tok.partition("=")
            if not sep:
                raise NcnnFormatError(f"{source}:{i}: parameter {tok!r} is not key=value")
            params[key] = value
        layers.append(Layer(parts[0], parts[1], parts[4:4 + n_in], parts[4 + n_in:4 + n_in + n_out], params))
    if len(layers) != n_layers:
        raise NcnnFormatError(f"{source}: declares {n_layers} layers, holds {len(layers)}")
    return layers


def format_param(layers: list[Layer]) -> str:
    blobs = {b for layer in layers for b in (*layer.bottoms, *layer.tops)}
    return "\n".join([MAGIC, f"{len(layers)} {len(blobs)}", *(layer.line() for layer in layers)]) + "\n"


def consumers(layers: list[Layer]) -> dict[str, list[Layer]]:
    """Blob name -> the layers that read it, in graph order."""
    out: dict[str, list[Layer]] = {}
    for layer in layers:
        for b in layer.bottoms:
            out.setdefault(b, []).append(layer)
    return out


def sole_consumer(users: dict[str, list[Layer]], blob: str) -> Layer | None:
    """The one layer reading ``blob`` (``users``: :func:`consumers`), or None if none or several do."""
    found = users.get(blob, [])
    return found[0] if len(found) == 1 else None


def plain_conv(layer: Layer | None, kernel: int, stride: int, pad: int) -> tuple[int, int] | None:
    """(in, out) channels of a Convolution with a ``kernel`` x ``kernel`` window, ``stride`` and
    ``pad`` (zero padding) on both axes and every side, and a bias: no dilation, fused activation,
    int8 or dynamic weights. Else None. ncnn's defaults apply to absent keys (11 = 1, 12 = 2,
    13 = 3, 14 = 4, 15 = 4, 16 = 14)."""
    if layer is None or layer.type != "Convolution" or len(layer.bottoms) != 1 or len(layer.tops) != 1:
        return None
    p = layer.int_param
    out, pad_left = p(0), p(4, 0)
    pad_top = p(14, pad_left)
    ok = (out > 0 and p(1) == kernel and p(11, p(1)) == kernel and p(2, 1) == 1 and p(12, p(2, 1)) == 1
          and p(3, 1) == stride and p(13, p(3, 1)) == stride and pad_left == pad and pad_top == pad
          and p(15, pad_left) == pad and p(16, pad_top) == pad
          and (pad == 0 or float(layer.params.get("18", "0")) == 0.0)
          and p(5, 0) == 1 and p(9, 0) == 0 and p(8, 0) == 0 and p(19, 0) == 0 and p(6) % (out * kernel * kernel) == 0)
    return (p(6) // (out * kernel * kernel), out) if ok else None


def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


class _Reader:
    def __init__(self, data: bytes, source: str):
        self.data, self.pos, self.source = data, 0, source

    def take(self, nbytes: int, what: str) -> bytes:
        if self.pos + nbytes > len(self.data):
            raise NcnnFormatError(f"{self.source}: truncated at {what} (needs {nbytes} bytes at offset "
                                  f"{self.pos}, file has {len(self.data)})")
        chunk = self.data[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def raw(self, n: int, what: str) -> bytes:  # ncnn load(n, 1)
        return self.take(4 * n, what)

    def tagged(self, n: int, what: str) -> bytes:  # ncnn load(n, 0): tag + payload
        tag_bytes = self.take(4, what)
        tag = int.from_bytes(tag_bytes, "little")
        if tag == TAG_FP16:
            size = _align4(2 * n)
        elif tag == TAG_INT8:
            size = _align4(n)
        elif tag in (TAG_FP32, TAG_FP32_SCALED):
            size = 4 * n
        else:  # quantized: a 256-entry float table, then one byte per value
            size = 256 * 4 + _align4(n)
        return tag_bytes + self.take(size, what)


def _weight_arrays(layer: Layer, r: _Reader) -> list[bytes]:
    t, what = layer.type, f"layer {layer.name} ({layer.type})"
    if t in WEIGHTLESS:
        return []
    if t in ("Convolution", "ConvolutionDepthWise", "Convolution1D", "Deconvolution"):
        int8 = layer.int_param(8, 0) if t in ("Convolution", "ConvolutionDepthWise") else 0
        dynamic = layer.int_param(28 if t == "Deconvolution" else 19, 0)
        if int8 or dynamic:
            raise NcnnFormatError(f"{what}: int8 or dynamic-weight convolutions are not supported")
        out = [r.tagged(layer.int_param(6), what)]
        if layer.int_param(5, 0):
            out.append(r.raw(layer.int_param(0), what))
        return out
    if t == "InnerProduct":
        if layer.int_param(8, 0):
            raise NcnnFormatError(f"{what}: int8 inner products are not supported")
        out = [r.tagged(layer.int_param(2), what)]
        if layer.int_param(1, 0):
            out.append(r.raw(layer.int_param(0), what))
        return out
    if t == "Gemm":  # constant operands, each load(n, 0): tagged
        if layer.int_param(18, 0):
            raise NcnnFormatError(f"{what}: quantized Gemm weights are not supported")
        M, N, K = layer.int_param(7, 0), layer.int_param(8, 0), layer.int_param(9, 0)
        out = [r.tagged(K * M, what)] if layer.int_param(4, 0) else []
        out += [r.tagged(N * K, what)] if layer.int_param(5, 0) else []
        c_type = layer.int_param(10, 0)
        if layer.int_param(6, 0) and c_type != -1:
            sizes = {0: 1, 1: M, 2: M, 3: N * M, 4: N}
            if c_type not in sizes:
                raise NcnnFormatError(f"{what}: unknown broadcast type {c_type} of C")
            out.append(r.tagged(sizes[c_type], what))
        return out
    if t == "BatchNorm":
        return [r.raw(layer.int_param(0), what) for _ in range(4)]  # slope, mean, var, bias
    if t == "PyhpeRepNeXtMixer":  # pyhpe's fused mixer (csrc/runtime/src/mixer_layer.h)
        down, c = layer.int_param(0, 0), layer.int_param(1)
        k = c if down else c // 4
        shapes = [(2, 3, 3, 3), (4, 5, 7, 7)] + ([] if down else [(6, 7, 1, 11), (8, 9, 11, 1)])
        out = []
        for kh_key, kw_key, kh, kw in shapes:
            out += [r.raw(k * layer.int_param(kh_key, kh) * layer.int_param(kw_key, kw), what), r.raw(k, what)]
        if layer.int_param(10, 0):
            out += [r.raw(2 * c if down else c, what) for _ in range(2)]
        return out
    if t == "PyhpeRepNeXtFFN":  # pyhpe's fused channel MLP (csrc/runtime/src/ffn_layer.h)
        c, hidden = layer.int_param(0), layer.int_param(1)
        return [r.raw(n, what) for n in (hidden * c, hidden, c * hidden, c)]
    if t == "PyhpeRepNeXtStem":  # pyhpe's fused stem (csrc/runtime/src/stem_layer.h)
        cin, c1, c2 = layer.int_param(0), layer.int_param(1), layer.int_param(2)
        return [r.raw(n, what) for n in (c1 * cin * 9, c1, c2 * c1 * 9, c2)]
    if t == "MemoryData":
        n = 1
        for key in (0, 1, 11, 2):
            n *= max(layer.int_param(key, 0), 1)
        return [r.raw(n, what)]
    raise NcnnFormatError(f"{what}: unknown layer type for the .bin walk (pyhpe.export.ncnn_graph "
                          "knows the weights of the layers pyhpe's exports use)")


def read_model(param: str | os.PathLike, bin_path: str | os.PathLike) -> list[Layer]:
    """Layers of an ncnn model with each layer's .bin arrays attached (byte-exact)."""
    try:
        text = Path(param).read_text()
    except UnicodeDecodeError as err:
        raise NcnnFormatError(f"{param}: not an ncnn .param text file (byte {err.start} is not UTF-8)") from err
    layers = parse_param(text, str(param))
    r = _Reader(Path(bin_path).read_bytes(), str(bin_path))
    for layer in layers:
        layer.weights = _weight_arrays(layer, r)
    if r.pos != len(r.data):
        raise NcnnFormatError(f"{bin_path}: {len(r.data) - r.pos} bytes left after the last layer "
                              "(not the .bin of this .param?)")
    return layers


def write_model(layers: list[Layer], param: str | os.PathLike, bin_path: str | os.PathLike) -> None:
    Path(param).write_text(format_param(layers))
    Path(bin_path).write_bytes(b"".join(w for layer in layers for w in layer.weights))


def decode_array(chunk: bytes, n: int, tagged: bool, what: str = "array") -> np.ndarray:
    """float32 values of one .bin array (tagged: fp32 or fp16 payloads only)."""
    if not tagged:
        return np.frombuffer(chunk, dtype="<f4", count=n).astype(np.float32)
    tag = int.from_bytes(chunk[:4], "little")
    if tag in (TAG_FP32, TAG_FP32_SCALED):
        return np.frombuffer(chunk, dtype="<f4", count=n, offset=4).astype(np.float32)
    if tag == TAG_FP16:
        return np.frombuffer(chunk, dtype="<f2", count=n, offset=4).astype(np.float32)
    raise NcnnFormatError(f"{what}: quantized weights (tag {tag:#x}) cannot be decoded")


def raw_array(values: np.ndarray) -> bytes:
    """A ``type=1`` (raw float32) .bin array."""
    return np.ascontiguousarray(values, dtype="<f4").tobytes()
