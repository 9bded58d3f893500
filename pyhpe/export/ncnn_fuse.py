"""Rewrite an exported ncnn model's RepNeXt mixers into the fused ``PyhpeRepNeXtMixer`` layer.

pnnx exports each RepNeXt token mixer in deploy form as ncnn's own layers:

- block mixer:      Slice(4 equal groups) -> [identity | DW kxk | DW kxk | DW 1xk -> DW kx1] -> Concat -> BatchNorm
- downsample mixer: Split -> [DW kxk stride 2 | DW kxk stride 2] -> Concat -> BatchNorm   (C -> 2C)

:func:`fuse_mixers` replaces every such subgraph by one ``PyhpeRepNeXtMixer`` layer (the C++
runtime's ncnn custom layer, csrc/runtime/src/mixer_layer.h, which runs the fused forward of
csrc/include/pyhpe/repnext_mixer.h) with the BatchNorm folded into a per-channel scale and shift.
The channel MLPs after the mixers (1x1 conv -> GELU -> 1x1 conv -> residual add) become
``PyhpeRepNeXtFFN`` layers, and the Splits between them ``PyhpeSplit`` (pyhpe/export/ncnn_ffn.py).
The stem (3x3 conv -> GELU -> 3x3 conv) becomes ``PyhpeRepNeXtStem`` (pyhpe/export/ncnn_stem.py).
The stem and the pose head stay fp32 under 16-bit storage (pyhpe/export/ncnn_precision.py).
Everything else, weights included, is copied byte for byte. The result is a second model pair
``<stem>.fused.ncnn.param/.bin``: the pip ``ncnn`` package cannot run the custom layer, so the
plain pair stays the default for Python; the C++ runtime (pyhpe-infer/pyhpe-bench ``--fused``)
loads either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyhpe.export.ncnn_ffn import LAYER_TYPE as FFN_LAYER_TYPE
from pyhpe.export.ncnn_ffn import fuse_ffn_layers, unpack_splits
from pyhpe.export.ncnn_graph import (
    Layer,
    NcnnFormatError,
    decode_array,
    raw_array,
    read_model,
    sole_consumer,
    write_model,
)
from pyhpe.export.ncnn_precision import keep_fp32_ends
from pyhpe.export.ncnn_stem import LAYER_TYPE as STEM_LAYER_TYPE
from pyhpe.export.ncnn_stem import fuse_stem

LAYER_TYPE = "PyhpeRepNeXtMixer"
MAX_KERNEL = 11  # the fused kernel's limit per side


@dataclass
class _Dw:
    """A ConvolutionDepthWise layer read as a 'same'-padded depthwise conv with bias."""

    layer: Layer
    channels: int
    kh: int
    kw: int
    stride: int

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.channels * self.kh * self.kw
        w = decode_array(self.layer.weights[0], n, tagged=True, what=self.layer.name)
        b = decode_array(self.layer.weights[1], self.channels, tagged=False, what=self.layer.name)
        return w, b


def _as_dw(layer: Layer | None, stride: int) -> _Dw | None:
    """The layer as a fusable depthwise conv (odd kernel <= 11, same padding, bias, no
    activation, the given stride), else None."""
    if layer is None or layer.type != "ConvolutionDepthWise":
        return None
    p = layer.int_param
    ch, kw = p(0), p(1)
    kh = p(11, kw)
    pad_l, pad_t = p(4, 0), p(14, p(4, 0))
    ok = (p(7, 1) == ch and p(6) == ch * kh * kw and p(5, 0) == 1 and p(9, 0) == 0
          and p(2, 1) == 1 and p(12, p(2, 1)) == 1 and p(3, 1) == stride and p(13, p(3, 1)) == stride
          and kh % 2 == 1 and kw % 2 == 1 and kh <= MAX_KERNEL and kw <= MAX_KERNEL
          and pad_l == (kw - 1) // 2 and pad_t == (kh - 1) // 2
          and p(15, pad_l) == pad_l and p(16, pad_t) == pad_t and layer.float_param(18, 0.0) == 0.0)
    return _Dw(layer, ch, kh, kw, stride) if ok else None


class _Graph:
    def __init__(self, layers: list[Layer]):
        self.layers = layers
        self.producer: dict[str, Layer] = {}
        self.consumers: dict[str, list[Layer]] = {}
        for layer in layers:
            for t in layer.tops:
                self.producer[t] = layer
            for b in layer.bottoms:
                self.consumers.setdefault(b, []).append(layer)

    def only_consumer(self, blob: str) -> Layer | None:
        return sole_consumer(self.consumers, blob)


def _bn_fold(bn: Layer, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    if bn is None or bn.type != "BatchNorm" or bn.int_param(0) != channels:
        return None
    slope, mean, var, bias = (decode_array(w, channels, tagged=False, what=bn.name).astype(np.float64)
                              for w in bn.weights)
    scale = slope / np.sqrt(var + bn.float_param(1, 0.0))
    return scale, bias - mean * scale


def _mixer_layer(name: str, bottom: str, top: str, downsample: bool, channels: int,
                 convs: list[_Dw], scale: np.ndarray, shift: np.ndarray) -> Layer:
    params = {"0": str(int(downsample)), "1": str(channels)}
    for i, dw in enumerate(convs):
        params[str(2 + 2 * i)], params[str(3 + 2 * i)] = str(dw.kh), str(dw.kw)
    params["10"] = "1"
    weights = [raw_array(a) for dw in convs for a in dw.arrays()] + [raw_array(scale), raw_array(shift)]
    return Layer(LAYER_TYPE, name, [bottom], [top], params, weights)


def _match_block(g: _Graph, sl: Layer):
    """Slice -> 3 DW branches + identity -> Concat -> BatchNorm, or None."""
    if sl.type != "Slice" or len(sl.tops) != 4 or sl.int_param(1, 0) != 0:
        return None
    sizes = sl.params.get("-23300", "").split(",")
    if len(sizes) != 5 or sizes[0] != "4" or len(set(sizes[1:])) != 1 or not sizes[1].isdigit():
        return None
    q = int(sizes[1])
    t0, t1, t2, t3 = sl.tops
    s = _as_dw(g.only_consumer(t1), 1)
    m = _as_dw(g.only_consumer(t2), 1)
    l1 = _as_dw(g.only_consumer(t3), 1)
    l2 = _as_dw(g.only_consumer(l1.layer.tops[0]), 1) if l1 else None
    if not (s and m and l1 and l2) or any(d.channels != q for d in (s, m, l1, l2)):
        return None
    cat = g.only_consumer(t0)
    if (cat is None or cat.type != "Concat" or cat.int_param(0, 0) != 0
            or cat.bottoms != [t0, s.layer.tops[0], m.layer.tops[0], l2.layer.tops[0]]
            or any(g.only_consumer(d.layer.tops[0]) is not cat for d in (s, m, l2))):
        return None
    bn = g.only_consumer(cat.tops[0])
    folded = _bn_fold(bn, 4 * q)
    if folded is None:
        return None
    fused = _mixer_layer(bn.name + "_mixer", sl.bottoms[0], bn.tops[0], False, 4 * q, [s, m, l1, l2], *folded)
    return fused, [sl, s.layer, m.layer, l1.layer, l2.layer, cat, bn], None


def _match_downsample(g: _Graph, cat: Layer):
    """Split -> 2 stride-2 DW -> Concat -> BatchNorm, or None. Returns the Split edit too."""
    if cat.type != "Concat" or len(cat.bottoms) != 2 or cat.int_param(0, 0) != 0:
        return None
    s = _as_dw(g.producer.get(cat.bottoms[0]), 2)
    m = _as_dw(g.producer.get(cat.bottoms[1]), 2)
    if not (s and m) or s.channels != m.channels:
        return None
    if any(g.only_consumer(d.layer.tops[0]) is not cat for d in (s, m)):
        return None
    split = g.producer.get(s.layer.bottoms[0])
    if (split is None or split.type != "Split" or g.producer.get(m.layer.bottoms[0]) is not split
            or s.layer.bottoms[0] == m.layer.bottoms[0]):
        return None
    channels = s.channels
    bn = g.only_consumer(cat.tops[0])
    folded = _bn_fold(bn, 2 * channels)
    if folded is None:
        return None
    remaining = [t for t in split.tops if t not in (s.layer.bottoms[0], m.layer.bottoms[0])]
    if remaining:  # the split still feeds others: the mixer takes one of its outputs
        bottom, split_edit = s.layer.bottoms[0], (split, remaining + [s.layer.bottoms[0]])
    else:  # the split fed only this mixer: it goes
        bottom, split_edit = split.bottoms[0], (split, None)
    fused = _mixer_layer(bn.name + "_mixer", bottom, bn.tops[0], True, channels, [s, m], *folded)
    return fused, [s.layer, m.layer, cat, bn], split_edit


def fuse_layers(layers: list[Layer]) -> tuple[list[Layer], int]:
    """The layer list with every mixer subgraph replaced (in place of its last layer, the
    BatchNorm, so the order stays topological); returns (layers, number of mixers fused)."""
    g = _Graph(layers)
    replace: dict[int, Layer] = {}  # id(BatchNorm) -> fused layer
    drop: set[int] = set()
    split_tops: dict[int, list[str] | None] = {}
    for layer in layers:
        if id(layer) in drop:
            continue
        found = _match_block(g, layer) or _match_downsample(g, layer)
        if not found:
            continue
        fused, removed, split_edit = found
        if any(id(r) in drop for r in removed):
            continue
        replace[id(removed[-1])] = fused
        drop.update(id(r) for r in removed)
        if split_edit:
            split_tops[id(split_edit[0])] = split_edit[1]
    out = []
    for layer in layers:
        if id(layer) in replace:
            out.append(replace[id(layer)])
        elif id(layer) in split_tops:
            tops = split_tops[id(layer)]
            if tops is not None:
                out.append(Layer(layer.type, layer.name, layer.bottoms, tops, dict(layer.params), layer.weights))
        elif id(layer) not in drop:
            out.append(layer)
    return out, len(replace)


def fused_paths(param: str | os.PathLike) -> tuple[Path, Path]:
    """``<stem>.ncnn.param`` -> (``<stem>.fused.ncnn.param``, ``<stem>.fused.ncnn.bin``)."""
    param = Path(param)
    if not param.name.endswith(".ncnn.param"):
        raise ValueError(f"expected <stem>.ncnn.param, got {param.name}")
    stem = param.name[: -len(".ncnn.param")]
    return param.with_name(stem + ".fused.ncnn.param"), param.with_name(stem + ".fused.ncnn.bin")


def fuse_mixers(param: str | os.PathLike, bin_path: str | os.PathLike | None = None,
                out_param: str | os.PathLike | None = None,
                out_bin: str | os.PathLike | None = None, ffn: bool = True, stem: bool = True,
                fp32_ends: bool = True) -> tuple[Path, Path, int] | None:
    """Write the fused pair of an ncnn model (default ``<stem>.fused.ncnn.param/.bin``): mixers,
    (``ffn``) the channel MLPs after them, (``stem``) the stem, and (``fp32_ends``) the stem and
    pose head kept fp32 under 16-bit storage (pyhpe/export/ncnn_precision.py). ``ffn``, ``stem``
    and ``fp32_ends`` are off only to measure what each buys.

    Returns (param, bin, number of mixers fused), or None (nothing written) when the model has no
    RepNeXt mixer. Raises :class:`~pyhpe.export.ncnn_graph.NcnnFormatError` for a model it cannot
    read."""
    param = Path(param)
    bin_path = Path(bin_path) if bin_path else param.with_suffix(".bin")
    layers = read_model(param, bin_path)
    for kind in (LAYER_TYPE, FFN_LAYER_TYPE, STEM_LAYER_TYPE):
        if any(layer.type == kind for layer in layers):
            raise NcnnFormatError(f"{param} already contains {kind} layers")
    fused, count = fuse_layers(layers)
    if count == 0:
        return None
    if ffn:
        fused, _ = fuse_ffn_layers(fused)
        fused, _ = unpack_splits(fused)
    if stem:
        fused, _ = fuse_stem(fused)
    if fp32_ends:
        fused, _ = keep_fp32_ends(fused)
    default_param, default_bin = fused_paths(param) if out_param is None else (None, None)
    out_param = Path(out_param) if out_param else default_param
    out_bin = Path(out_bin) if out_bin else (default_bin or out_param.with_suffix(".bin"))
    write_model(fused, out_param, out_bin)
    return out_param, out_bin, count
