"""The strict check of an ncnn model (.param text + .bin bytes) before ncnn parses it.

The same rules as the C++ runtime's check (csrc/runtime/src/model_check.cpp, which documents
them; docs/fuzzing.md): the Python backend (:class:`pyhpe.runtime.backends.NcnnBackend`) runs it
so that a corrupted or truncated file is a one-line :class:`NcnnModelError`, not a crash inside
the ncnn package. The two implementations are kept in step by tests/runtime/test_runtime_fuzz.py,
which replays the C++ fuzz harness's mutated models through both and requires the same verdict
on every one. The Python package ships without the C++ runtime, hence a port rather than a call.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field

MAX_PARAM_BYTES = 16 << 20
MAX_COUNT = 100000  # layers, blobs
MAX_ARRAY = 1024  # elements of one -233xx array parameter
MAX_SIDE = 1 << 16
TAG_FP32, TAG_FP16 = 0, 0x01306B47
_MANY = 1 << 30
_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT_CHARS = re.compile(r"[0-9.eE+-]+\Z")
_INT32 = (-(1 << 31), (1 << 31) - 1)
_NOT_TEXT = re.compile(rb"[^\t\n\r\x20-\x7e]")

# type -> (min bottoms, max bottoms, min tops, max tops): model_check.cpp's kLayers
LAYERS: dict[str, tuple[int, int, int, int]] = {
    "Input": (0, 0, 1, 1), "Split": (1, 1, 1, _MANY), "PyhpeSplit": (1, 1, 1, _MANY),
    "Slice": (1, 1, 1, _MANY), "Concat": (1, _MANY, 1, 1), "BinaryOp": (1, 2, 1, 1),
    "Eltwise": (2, _MANY, 1, 1), "MatMul": (2, 2, 1, 1), "Gemm": (1, 3, 1, 1),
    "GridSample": (2, 2, 1, 1), "MemoryData": (0, 0, 1, 1), "Noop": (0, _MANY, 0, _MANY),
    "PyhpeRepNeXtFFN": (1, 2, 1, 1),
    **{t: (1, 1, 1, 1) for t in (
        "Convolution", "ConvolutionDepthWise", "Convolution1D", "Deconvolution", "InnerProduct",
        "BatchNorm", "Pooling", "PyhpeRepNeXtMixer", "GELU", "UnaryOp", "Reshape", "Permute",
        "Softmax", "Flatten", "ReLU", "Sigmoid", "HardSigmoid", "HardSwish", "Swish", "Mish", "Clip",
        "Interp", "Reduction", "Crop", "Padding", "Dropout", "Packing", "Cast", "Squeeze",
        "ExpandDims", "TanH", "ELU", "Exp", "Log", "Power", "Tile", "Erf", "AbsVal")},
}
SAME_SHAPE = frozenset(["GELU", "UnaryOp", "ReLU", "Sigmoid", "HardSigmoid", "HardSwish", "Swish",
                        "Mish", "Clip", "Dropout", "TanH", "ELU", "Exp", "Log", "Power", "Erf",
                        "AbsVal", "Softmax", "Split", "PyhpeSplit"])


class NcnnModelError(ValueError):
    """A .param/.bin pair that the check refuses; the message names the file, line and problem."""


@dataclass(frozen=True)
class Shape:
    dims: int = 0  # 0: unknown
    w: int = 0
    h: int = 0
    c: int = 0

    def __str__(self) -> str:
        if self.dims == 1:
            return f"({self.w})"
        if self.dims == 2:
            return f"({self.w} x {self.h})"
        return f"(c {self.c}, h {self.h}, w {self.w})"


UNKNOWN = Shape()
_AXIS_WORD = ("channels", "rows", "columns")


def _extent(s: Shape, a: int) -> int:
    """A 3-D shape's extent along ncnn's axis a (0 c, 1 h, 2 w)."""
    return (s.c, s.h, s.w)[a]


def _with_extent(s: Shape, a: int, n: int) -> Shape:
    return Shape(s.dims, n if a == 2 else s.w, n if a == 1 else s.h, n if a == 0 else s.c)


@dataclass
class _Param:
    is_array: bool
    is_float: bool
    values: list[float]


@dataclass
class _Layer:
    line: int
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, _Param] = field(default_factory=dict)


def _parse_int(s: str) -> int | None:
    if len(s) > 12 or not _INT.match(s):
        return None
    v = int(s)
    return v if _INT32[0] <= v <= _INT32[1] else None


def _parse_number(s: str) -> tuple[bool, float] | None:
    """(is_float, value) of an int32 or a finite float32 written with digits, '.', 'e'."""
    if not s:
        return None
    v = _parse_int(s)
    if v is not None:
        return False, float(v)
    if len(s) > 64 or not _FLOAT_CHARS.match(s) or not any(ch.isdigit() for ch in s):
        return None
    try:
        f = float(s)
    except ValueError:
        return None
    try:
        f32 = struct.unpack("<f", struct.pack("<f", f))[0]
    except OverflowError:
        return None
    if not math.isfinite(f32):
        return None
    return True, f32


class _Checker:
    def __init__(self, param_name: str, bin_name: str, image_blob: str, image_size: int):
        self.pname, self.bname = param_name, bin_name
        self.image_blob, self.image_size = image_blob, image_size
        self.blob_count = 0
        self.layers: list[_Layer] = []
        self.consumed: set[str] = set()
        self.shapes: dict[str, Shape] = {}
        self.weights: dict[int, list[tuple[int, bool]]] = {}  # layer index -> (values, tagged)

    # --- errors -----------------------------------------------------------------------------
    def bad_file(self, msg: str) -> NcnnModelError:
        return NcnnModelError(f"{self.pname}: {msg}")

    def bad_line(self, line: int, msg: str) -> NcnnModelError:
        return NcnnModelError(f"{self.pname} line {line}: {msg}")

    def bad(self, layer: _Layer, msg: str) -> NcnnModelError:
        return self.bad_line(layer.line, f"{layer.type} '{layer.name}': {msg}")

    # --- text ---------------------------------------------------------------------------------
    def check_bytes(self, text: bytes) -> None:
        if len(text) > MAX_PARAM_BYTES:
            raise self.bad_file(f"larger than {MAX_PARAM_BYTES >> 20} MiB: not a pyhpe model's .param")
        m = _NOT_TEXT.search(text)
        if m:
            line = text.count(b"\n", 0, m.start()) + 1
            raise self.bad_line(line, f"byte {text[m.start()]} is not printable ASCII (not an ncnn .param text)")

    @staticmethod
    def tokens(line: str) -> list[str]:
        return [t for t in re.split(r"[ \t\r]+", line) if t]

    def parse_param(self, layer: _Layer, tok: str) -> None:
        key_s, sep, value = tok.partition("=")
        if not sep or not key_s:
            raise self.bad(layer, f"parameter '{tok}' is not key=value")
        key = _parse_int(key_s)
        if key is None:
            raise self.bad(layer, f"parameter key '{key_s}' is not an integer")
        if key <= -23300:
            key = -(key + 23300)
            if key > 31:
                raise self.bad(layer, f"array parameter key {key_s} is out of range")
            parts = value.split(",", MAX_ARRAY + 2)
            n = _parse_int(parts[0])
            if n is None or n < 0 or n > MAX_ARRAY:
                raise self.bad(layer, f"array parameter {key_s} has length '{parts[0]}' (0 to {MAX_ARRAY} expected)")
            if len(parts) - 1 != n:
                held = "more" if len(parts) > MAX_ARRAY + 1 else str(len(parts) - 1)
                raise self.bad(layer, f"array parameter {key_s} declares {n} values, holds {held}")
            values, first_float = [], False
            for k, part in enumerate(parts[1:], start=1):
                v = _parse_number(part)
                if v is None:
                    raise self.bad(layer, f"array parameter {key_s} value {k} '{part}' is not a number")
                if k == 1:
                    first_float = v[0]
                elif v[0] != first_float:
                    raise self.bad(layer, f"array parameter {key_s} mixes integers and floats")
                values.append(v[1])
            p = _Param(True, first_float, values)
        else:
            if key < 0 or key > 31:
                raise self.bad(layer, f"parameter key {key} is out of range (0 to 31)")
            v = _parse_number(value)
            if v is None:
                raise self.bad(layer, f"parameter {key}='{value}' is not a number")
            p = _Param(False, v[0], [v[1]])
        if key in layer.params:
            raise self.bad(layer, f"parameter {key} is given twice")
        layer.params[key] = p

    def parse(self, text: str) -> None:
        lines = [(no, line) for no, line in enumerate(text.split("\n"), start=1) if self.tokens(line)]
        if not lines or self.tokens(lines[0][1]) != ["7767517"]:
            raise self.bad_file("not an ncnn .param file, cannot parse it (its first line must be the magic 7767517)")
        counts = self.tokens(lines[1][1]) if len(lines) > 1 else []
        nl = _parse_int(counts[0]) if len(counts) == 2 else None
        nb = _parse_int(counts[1]) if len(counts) == 2 else None
        if nl is None or nb is None:
            raise self.bad_line(lines[1][0] if len(lines) > 1 else 2, "must be '<layer count> <blob count>'")
        if not (1 <= nl <= MAX_COUNT and 1 <= nb <= MAX_COUNT):
            raise self.bad_line(lines[1][0], f"layer count {nl} and blob count {nb} must be in [1, {MAX_COUNT}]")
        self.blob_count = nb
        if len(lines) - 2 != nl:
            raise self.bad_line(lines[1][0], f"declares {nl} layers, the file holds {len(lines) - 2} layer lines")
        for no, line in lines[2:]:
            t = self.tokens(line)
            n_in = _parse_int(t[2]) if len(t) >= 4 else None
            n_out = _parse_int(t[3]) if len(t) >= 4 else None
            if n_in is None or n_out is None or n_in < 0 or n_out < 0:
                raise self.bad_line(no, "a layer line must start 'Type name <bottom count> <top count>'")
            if len(t[0]) > 255 or len(t[1]) > 255:
                raise self.bad_line(no, "layer type or name longer than 255 characters")
            layer = _Layer(no, t[0], t[1], [], [])
            if len(t) < 4 + n_in + n_out:
                raise self.bad(layer, f"declares {n_in} bottoms and {n_out} tops, the line names {len(t) - 4}")
            layer.bottoms = t[4:4 + n_in]
            layer.tops = t[4 + n_in:4 + n_in + n_out]
            if any(len(b) > 255 for b in layer.bottoms + layer.tops):
                raise self.bad(layer, "a blob name is longer than 255 characters")
            for tok in t[4 + n_in + n_out:]:
                self.parse_param(layer, tok)
            self.layers.append(layer)

    # --- layers -------------------------------------------------------------------------------
    def geti(self, layer: _Layer, key: int, default: int, lo: int, hi: int) -> int:
        p = layer.params.get(key)
        if p is None:
            v = default
        elif p.is_array or p.is_float:
            raise self.bad(layer, f"parameter {key} must be an integer")
        else:
            v = int(p.values[0])
        if v < lo or v > hi:
            raise self.bad(layer, f"parameter {key}={v} is out of range [{lo}, {hi}]")
        return v

    def check_layer(self, index: int, layer: _Layer) -> None:
        k = LAYERS.get(layer.type)
        if k is None:
            raise self.bad(layer, f"layer type '{layer.type}' is not one pyhpe's models use")
        nb, nt = len(layer.bottoms), len(layer.tops)
        if not (k[0] <= nb <= k[1] and k[2] <= nt <= k[3]):
            raise self.bad(layer, f"has {nb} bottoms and {nt} tops, which {layer.type} does not take")
        if layer.type == "Noop" and nb != nt:
            raise self.bad(layer, f"Noop needs as many tops as bottoms, has {nb} and {nt}")
        shapes_in = []
        for b in layer.bottoms:
            if b not in self.shapes:
                raise self.bad(layer, f"blob '{b}' used before it is produced")
            if b in self.consumed:
                raise self.bad(layer, f"blob '{b}' is consumed a second time (ncnn needs a Split to share a blob)")
            self.consumed.add(b)
            shapes_in.append(self.shapes[b])
        out = [UNKNOWN] * nt
        self.params_and_shapes(index, layer, shapes_in, out)
        for top, s in zip(layer.tops, out):
            if top in self.shapes:
                raise self.bad(layer, f"blob '{top}' is produced a second time")
            self.shapes[top] = s

    @staticmethod
    def window_out(size, k, d, s, p0, p1) -> int | None:
        ext = d * (k - 1) + 1
        if p0 in (-233, -234):
            return (size + s - 1) // s
        if size + p0 + p1 < ext:
            return None
        v = (size + p0 + p1 - ext) // s + 1
        return v if v >= 1 else None

    def conv(self, index: int, layer: _Layer, shapes_in: list[Shape], out: list[Shape]) -> None:
        t = layer.type
        dw, c1d, de = t == "ConvolutionDepthWise", t == "Convolution1D", t == "Deconvolution"
        g = self.geti
        num_output = g(layer, 0, 0, 1, MAX_SIDE)
        kw = g(layer, 1, 0, 1, 64)
        kh = g(layer, 11, kw, 1, 64)
        dil_w = g(layer, 2, 1, 1, 64)
        dil_h = g(layer, 12, dil_w, 1, 64)
        sw = g(layer, 3, 1, 1, 64)
        sh = g(layer, 13, sw, 1, 64)
        pl = g(layer, 4, 0, -234, 64)
        pr = g(layer, 15, pl, -234, 64)
        pt = g(layer, 14, pl, -234, 64)
        pb = g(layer, 16, pt, -234, 64)
        bias = g(layer, 5, 0, 0, 1)
        wds = g(layer, 6, 0, 1, _INT32[1])
        # ncnn pads explicitly when any side is > 0 and "same" only when all four are -233 or all -234
        same = pl in (-233, -234) and pr == pt == pb == pl
        if not same and min(pl, pr, pt, pb) < 0:
            raise self.bad(layer, f"paddings {pl} {pr} {pt} {pb} must all be >= 0, or all -233 or all -234")
        if same and de:
            raise self.bad(layer, "a deconvolution takes no -233/-234 padding")
        group = g(layer, 7, 1, 1, MAX_SIDE) if dw else 1
        if not de and not c1d:
            g(layer, 8, 0, 0, 0)
        g(layer, 28 if de else 19, 0, 0, 0)
        opad_r = opad_b = out_w = out_h = 0
        if de:
            opad_r = g(layer, 18, 0, 0, 64)
            opad_b = g(layer, 19, opad_r, 0, 64)
            out_w = g(layer, 20, 0, 0, MAX_SIDE)
            out_h = g(layer, 21, out_w, 0, MAX_SIDE)
        if num_output % group:
            raise self.bad(layer, f"num_output {num_output} is not a multiple of group {group}")
        if wds % (num_output * kw * (1 if c1d else kh)):
            raise self.bad(layer, f"weight_data_size {wds} is not a multiple of num_output x kernel")
        self.weights[index] = [(wds, True)] + ([(num_output, False)] if bias else [])
        if shapes_in and shapes_in[0].dims not in (0, 2 if c1d else 3):
            kind = "2-D (w, h)" if c1d else "3-D (c, h, w)"
            raise self.bad(layer, f"takes a {kind} input, got {shapes_in[0]}")
        if c1d or not shapes_in or shapes_in[0].dims != 3:
            return
        s = shapes_in[0]
        cin_w = wds // (num_output * kw * kh)
        if de:
            if cin_w != s.c:
                raise self.bad(layer, f"weights hold {cin_w} input channels, the input {s} has {s.c}")
            ow = out_w if out_w > 0 else (s.w - 1) * sw + dil_w * (kw - 1) + 1 - pl - pr + opad_r
            oh = out_h if out_h > 0 else (s.h - 1) * sh + dil_h * (kh - 1) + 1 - pt - pb + opad_b
            if ow < 1 or oh < 1 or ow > MAX_SIDE or oh > MAX_SIDE:
                raise self.bad(layer, f"gives an output of {ow} x {oh} from {s}")
            out[0] = Shape(3, ow, oh, num_output)
            return
        if dw:
            if s.c % group:
                raise self.bad(layer, f"input has {s.c} channels, not a multiple of group {group}")
            if cin_w * group != s.c:
                raise self.bad(layer, f"weights hold {cin_w * group} input channels, the input {s} has {s.c}")
        elif cin_w != s.c:
            raise self.bad(layer, f"weights hold {cin_w} input channels, the input {s} has {s.c}")
        ow = self.window_out(s.w, kw, dil_w, sw, pl, pr)
        oh = self.window_out(s.h, kh, dil_h, sh, pt, pb)
        if ow is None or oh is None:
            raise self.bad(layer, f"the kernel does not fit the input {s}")
        out[0] = Shape(3, ow, oh, num_output)

    def params_and_shapes(self, index: int, layer: _Layer, shapes_in: list[Shape], out: list[Shape]) -> None:
        t, g, has = layer.type, self.geti, layer.params.__contains__
        known3 = bool(shapes_in) and shapes_in[0].dims == 3
        if t == "Input":
            w, h, c = g(layer, 0, 0, 0, MAX_SIDE), g(layer, 1, 0, 0, MAX_SIDE), g(layer, 2, 0, 0, MAX_SIDE)
            if w > 0 and h > 0 and c > 0:
                out[0] = Shape(3, w, h, c)
            elif w > 0 and h > 0 and not has(2):
                out[0] = Shape(2, w, h, 1)
            elif w > 0 and not has(1) and not has(2):
                out[0] = Shape(1, w, 1, 1)
            elif has(0) or has(1) or has(2):
                raise self.bad(layer, "declares no usable input shape (0=w 1=h 2=c, each >= 1)")
            elif layer.tops[0] == self.image_blob:
                out[0] = Shape(3, self.image_size, self.image_size, 3)
            return
        if t in ("Convolution", "ConvolutionDepthWise", "Convolution1D", "Deconvolution"):
            return self.conv(index, layer, shapes_in, out)
        if t == "InnerProduct":
            n, bias, wds = g(layer, 0, 0, 1, MAX_SIDE), g(layer, 1, 0, 0, 1), g(layer, 2, 0, 1, _INT32[1])
            g(layer, 8, 0, 0, 0)
            g(layer, 9, 0, 0, 10)
            if wds % n:
                raise self.bad(layer, f"weight_data_size {wds} is not a multiple of num_output {n}")
            self.weights[index] = [(wds, True)] + ([(n, False)] if bias else [])
            s = shapes_in[0] if shapes_in else UNKNOWN
            if s.dims and s.w * s.h * s.c * n != wds:
                raise self.bad(layer, f"weights hold {wds // n} inputs, the input {s} has {s.w * s.h * s.c}")
            if shapes_in and shapes_in[0].dims:
                out[0] = Shape(1, n, 1, 1)
            return
        if t == "BatchNorm":
            c = g(layer, 0, 0, 1, MAX_SIDE)
            self.weights[index] = [(c, False)] * 4
            s = shapes_in[0]
            if s.dims:
                have = s.w if s.dims == 1 else s.h if s.dims == 2 else s.c
                if have != c:
                    raise self.bad(layer, f"has {c} channels, the input {s} has {have}")
                out[0] = s
            return
        if t == "Pooling":
            g(layer, 0, 0, 0, 1)
            k = g(layer, 1, 0, 0, 64)
            g(layer, 11, k, 0, 64)
            g(layer, 2, 1, 1, 64)
            g(layer, 12, 1, 1, 64)
            g(layer, 3, 0, 0, 64)
            g(layer, 14, 0, 0, 64)
            g(layer, 13, 0, 0, 64)
            g(layer, 15, 0, 0, 64)
            glob = g(layer, 4, 0, 0, 1)
            g(layer, 5, 0, 0, 3)
            g(layer, 7, 0, 0, 1)
            g(layer, 8, 0, 0, MAX_SIDE)
            g(layer, 18, 0, 0, MAX_SIDE)
            if shapes_in[0].dims not in (0, 3):
                raise self.bad(layer, f"takes a 3-D (c, h, w) input, got {shapes_in[0]}")
            if glob and known3:
                out[0] = Shape(1, shapes_in[0].c, 1, 1)
            elif not glob and k < 1:
                raise self.bad(layer, "a windowed pooling needs a kernel >= 1")
            return
        if t == "PyhpeRepNeXtMixer":
            return self.mixer(index, layer, shapes_in, out)
        if t == "PyhpeRepNeXtFFN":
            c, hidden = g(layer, 0, 0, 1, MAX_SIDE), g(layer, 1, 0, 1, MAX_SIDE)
            self.weights[index] = [(hidden * c, False), (hidden, False), (c * hidden, False), (c, False)]
            for s in shapes_in:
                if s.dims and (s.dims != 3 or s.c != c):
                    raise self.bad(layer, f"has {c} channels, an input {s} differs")
            if len(shapes_in) == 2 and shapes_in[0].dims and shapes_in[1].dims and shapes_in[0] != shapes_in[1]:
                raise self.bad(layer, f"its inputs differ in shape: {shapes_in[0]} and {shapes_in[1]}")
            if known3:
                out[0] = shapes_in[0]
            return
        if t in SAME_SHAPE:
            out[:] = [shapes_in[0]] * len(out)
            return
        if t == "BinaryOp":
            g(layer, 0, 0, 0, 11)
            scalar = g(layer, 1, 0, 0, 1)
            if (scalar == 1) != (len(shapes_in) == 1):
                raise self.bad(layer, "with_scalar=1 takes one bottom" if scalar
                               else "takes two bottoms (or 1=1 and a scalar)")
            if len(shapes_in) == 1 or (shapes_in[0].dims and shapes_in[0] == shapes_in[1]):
                out[0] = shapes_in[0]
            return
        if t == "Concat":
            axis = g(layer, 0, 0, -4, 3)
            if all(s.dims == 3 for s in shapes_in):
                a = axis + 3 if axis < 0 else axis
                if not 0 <= a <= 2:
                    raise self.bad(layer, f"axis {axis} is out of range for 3-D inputs")
                n = 0
                for s in shapes_in:
                    if any(_extent(s, b) != _extent(shapes_in[0], b) for b in range(3) if b != a):
                        raise self.bad(layer, f"concatenates {_AXIS_WORD[a]} of differently sized inputs "
                                              f"{shapes_in[0]} and {s}")
                    n += _extent(s, a)
                if n > MAX_SIDE:
                    raise self.bad(layer, f"concatenates more than {MAX_SIDE} {_AXIS_WORD[a]}")
                out[0] = _with_extent(shapes_in[0], a, n)
            return
        if t == "Padding":  # top, bottom, left, right, front (channels), behind; no per-channel values
            top, bottom, left, right, front, behind = (g(layer, k, 0, 0, 4096) for k in (0, 1, 2, 3, 7, 8))
            g(layer, 4, 0, 0, 2)
            g(layer, 6, 0, 0, 0)
            if known3:
                s = shapes_in[0]
                w, h, c = s.w + left + right, s.h + top + bottom, s.c + front + behind
                if max(w, h, c) > MAX_SIDE:
                    raise self.bad(layer, f"pads beyond {MAX_SIDE}")
                out[0] = Shape(3, w, h, c)
            return
        if t == "Slice":
            return self.slice(layer, shapes_in, out)
        if t == "Flatten":
            s = shapes_in[0]
            if s.dims:
                out[0] = Shape(1, s.w * s.h * s.c, 1, 1)
            return
        if t == "MemoryData":
            w, h = g(layer, 0, 0, 0, MAX_SIDE), g(layer, 1, 0, 0, MAX_SIDE)
            d, c = g(layer, 11, 0, 0, MAX_SIDE), g(layer, 2, 0, 0, MAX_SIDE)
            g(layer, 21, 1, 1, 1)
            n = (w or 1) * (h or 1) * (d or 1) * (c or 1)
            if n > 1 << 28:
                raise self.bad(layer, "holds more than 2^28 values")
            self.weights[index] = [(n, False)]
            return
        if t == "Gemm":
            ca, cb, cc = g(layer, 4, 0, 0, 1), g(layer, 5, 0, 0, 1), g(layer, 6, 0, 0, 1)
            M, N, K = g(layer, 7, 0, 0, MAX_SIDE), g(layer, 8, 0, 0, MAX_SIDE), g(layer, 9, 0, 0, MAX_SIDE)
            bt = g(layer, 10, 0, -1, 4)
            g(layer, 18, 0, 0, 0)
            least = (0 if ca else 1) + (0 if cb else 1)
            most = least + (0 if cc else 1)
            if not least <= len(shapes_in) <= most:
                alt = f" or {most}" if most > least else ""
                raise self.bad(layer, f"takes {least}{alt} bottoms with these constants, has {len(shapes_in)}")
            w = ([(K * M, True)] if ca else []) + ([(N * K, True)] if cb else [])
            if cc and bt != -1:
                w.append(((1, M, M, N * M, N)[bt], True))
            if any(n < 1 for n, _ in w):
                raise self.bad(layer, "a constant operand with no values (M, N, K must be >= 1)")
            self.weights[index] = w

    def mixer(self, index: int, layer: _Layer, shapes_in: list[Shape], out: list[Shape]) -> None:
        g = self.geti
        down, c, affine = g(layer, 0, 0, 0, 1), g(layer, 1, 0, 1, MAX_SIDE), g(layer, 10, 0, 0, 1)
        k = [g(layer, 2 + i, d, 1, 11) for i, d in enumerate((3, 3, 7, 7, 1, 11, 11, 1))]
        if any(side % 2 == 0 for side in k):
            raise self.bad(layer, "kernel sides must be odd")
        if not down and c % 4:
            raise self.bad(layer, f"1=channels {c} is not a multiple of 4 (block mixer)")
        K, cout = (c, 2 * c) if down else (c // 4, c)
        w = [(K * k[0] * k[1], False), (K, False), (K * k[2] * k[3], False), (K, False)]
        if not down:
            w += [(K * k[4] * k[5], False), (K, False), (K * k[6] * k[7], False), (K, False)]
        if affine:
            w += [(cout, False), (cout, False)]
        self.weights[index] = w
        s = shapes_in[0]
        if s.dims:
            if s.dims != 3 or s.c != c:
                raise self.bad(layer, f"has {c} channels, the input {s} differs")
            out[0] = Shape(3, (s.w - 1) // 2 + 1, (s.h - 1) // 2 + 1, cout) if down else s

    def slice(self, layer: _Layer, shapes_in: list[Shape], out: list[Shape]) -> None:
        axis = self.geti(layer, 1, 0, -4, 3)
        has_slices, has_indices = 0 in layer.params, 2 in layer.params
        if has_slices == has_indices:
            raise self.bad(layer, "needs exactly one of the integer arrays -23300 (sizes) and -23302 (indices)")
        p = layer.params[0 if has_slices else 2]
        if not p.is_array or p.is_float:
            raise self.bad(layer, "its slice sizes / indices must be an integer array")
        follow = bool(shapes_in) and shapes_in[0].dims == 3
        a = axis + 3 if axis < 0 else axis
        if follow and not 0 <= a <= 2:
            raise self.bad(layer, f"axis {axis} is out of range for a 3-D input")
        s = shapes_in[0] if shapes_in else UNKNOWN
        C = _extent(s, a) if follow else 0
        word = _AXIS_WORD[a] if 0 <= a <= 2 else ""
        if has_indices:
            if len(p.values) + 1 != len(layer.tops):
                raise self.bad(layer, f"has {len(p.values)} indices for {len(layer.tops)} tops")
            if not follow:
                return
            q = 0
            for j in range(len(layer.tops)):
                end = C
                if j + 1 < len(layer.tops):
                    end = int(p.values[j])
                    if end < 0:
                        end += C
                if end - q < 1 or end > C:
                    shown = int(p.values[j]) if j < len(p.values) else C
                    raise self.bad(layer, f"index {shown} gives an empty or out-of-range slice of {C} {word}")
                out[j] = _with_extent(s, a, end - q)
                q = end
            return
        sizes = [int(v) for v in p.values]
        if len(sizes) != len(layer.tops):
            raise self.bad(layer, f"slices into {len(sizes)} parts, has {len(layer.tops)} tops")
        fixed = rest = 0
        for n in sizes:
            if n == -233:
                rest += 1
            elif n >= 1:
                fixed += n
            else:
                raise self.bad(layer, f"slice size {n} is neither >= 1 nor -233")
        if not follow:
            return
        if fixed + rest > C or (rest == 0 and fixed != C):
            raise self.bad(layer, f"slices {fixed}{'+' if rest else ''} {word} of an input with {C}")
        q = 0
        for j, n in enumerate(sizes):
            if n == -233:
                n = (C - q) // (len(sizes) - j)
            if n < 1:
                raise self.bad(layer, "a -233 slice gets nothing")
            out[j] = _with_extent(s, a, n)
            q += n

    # --- the .bin -----------------------------------------------------------------------------
    def walk_bin(self, data: bytes) -> None:
        pos, size = 0, len(data)
        for index, layer in enumerate(self.layers):
            for a, (n, tagged) in enumerate(self.weights.get(index, []), start=1):
                what = (f"layer {layer.type} '{layer.name}' ({self.pname} line {layer.line}) array {a} "
                        f"({n} values)")
                nbytes = 4 * n
                if tagged:
                    if size - pos < 4:
                        raise NcnnModelError(f"{self.bname}: cannot read {what}: needs its 4-byte tag at offset {pos}, "
                                             f"the file has {size} bytes")
                    tag = int.from_bytes(data[pos:pos + 4], "little")
                    pos += 4
                    if tag == TAG_FP16:
                        nbytes = (2 * n + 3) // 4 * 4
                    elif tag != TAG_FP32:
                        raise NcnnModelError(f"{self.bname}: cannot read {what}: storage tag 0x{tag:08x} at offset "
                                             f"{pos - 4} (fp32 or fp16 expected)")
                if nbytes > size - pos:
                    raise NcnnModelError(f"{self.bname}: cannot read {what}: needs {nbytes} bytes at offset {pos}, the file "
                                         f"has {size} (truncated, or not this .param's weights)")
                pos += nbytes
        if pos != size:
            raise NcnnModelError(f"{self.bname}: the .param's layers read {pos} bytes, the file has {size} "
                                 "(not this .param's weights)")

    def run(self, param: bytes, weights: bytes) -> None:
        self.check_bytes(param)
        self.parse(param.decode("ascii"))
        for i, layer in enumerate(self.layers):
            self.check_layer(i, layer)
        if len(self.shapes) != self.blob_count:
            raise self.bad_file(f"line 2 declares {self.blob_count} blobs, the layers name {len(self.shapes)}")
        self.walk_bin(weights)


def check_ncnn_model(param: bytes, weights: bytes, *, param_name: str = "model.param",
                     bin_name: str = "model.bin", image_blob: str = "", image_size: int = 0) -> None:
    """Raises :class:`NcnnModelError` (message: the file, the line, the problem) unless the
    .param text ``param`` and the .bin bytes ``weights`` pass the runtime's check. An Input
    without a declared shape whose blob is ``image_blob`` takes 3 x image_size x image_size."""
    _Checker(param_name, bin_name, image_blob, image_size).run(bytes(param), bytes(weights))
