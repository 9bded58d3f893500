"""Rewrite a RepNeXt stem into the ``PyhpeRepNeXtStem`` layer.

pnnx exports the RepNeXt stem (deploy form: each Conv2d_BN merged into one convolution) as::

    Input -> Convolution 3x3 stride 2 pad 1 (3 -> C/2, bias) -> GELU -> Convolution 3x3 stride 2 pad 1 (C/2 -> C, bias)

:func:`fuse_stem` replaces that chain by one ``PyhpeRepNeXtStem`` layer (the C++ runtime's custom
layer, csrc/runtime/src/stem_layer.h: both convolutions and the exact GELU in one pass, fp32,
writing the elempack-1 blob the first fused mixer reads). The weights are copied from the two
convolutions (fp32, or fp16 widened to fp32). Used by
:func:`pyhpe.export.ncnn_fuse.fuse_mixers` for the fused pair; any other first layers are left
as they are.
"""

from __future__ import annotations

import numpy as np

from pyhpe.export.ncnn_graph import Layer, consumers, decode_array, raw_array

LAYER_TYPE = "PyhpeRepNeXtStem"


def _stride2_conv3x3(layer: Layer | None) -> tuple[int, int] | None:
    """(in, out) channels of a plain 3x3 convolution with stride 2, padding 1 on every side and
    bias (no dilation, activation, int8 or dynamic weights), else None."""
    if layer is None or layer.type != "Convolution" or len(layer.bottoms) != 1 or len(layer.tops) != 1:
        return None
    p = layer.int_param
    out = p(0)
    pad_left, pad_top = p(4, 0), p(14, p(4, 0))
    ok = (p(1) == 3 and p(11, 3) == 3 and p(2, 1) == 1 and p(12, p(2, 1)) == 1 and p(3, 1) == 2
          and p(13, p(3, 1)) == 2 and pad_left == 1 and pad_top == 1 and p(15, pad_left) == 1
          and p(16, pad_top) == 1 and float(layer.params.get("18", "0")) == 0.0 and p(5, 0) == 1
          and p(9, 0) == 0 and p(8, 0) == 0 and p(19, 0) == 0 and out > 0 and p(6) % (out * 9) == 0)
    return (p(6) // (out * 9), out) if ok else None


def fuse_stem(layers: list[Layer]) -> tuple[list[Layer], int]:
    """The layer list with the stem chain after the first Input replaced (at the second
    convolution's place); returns (layers, 1 if a stem was fused else 0)."""
    users = consumers(layers)
    inputs = [layer for layer in layers if layer.type == "Input"]
    if not inputs:
        return layers, 0

    def only(blob: str) -> Layer | None:
        found = users.get(blob, [])
        return found[0] if len(found) == 1 else None

    conv1 = only(inputs[0].tops[0])
    shape1 = _stride2_conv3x3(conv1)
    if shape1 is None:
        return layers, 0
    gelu = only(conv1.tops[0])
    if gelu is None or gelu.type != "GELU" or gelu.int_param(0, 0) != 0 or len(gelu.tops) != 1:
        return layers, 0
    conv2 = only(gelu.tops[0])
    shape2 = _stride2_conv3x3(conv2)
    if shape2 is None or shape2[0] != shape1[1]:
        return layers, 0
    (cin, c1), (_, c2) = shape1, shape2
    arrays = [decode_array(conv1.weights[0], c1 * cin * 9, tagged=True, what=conv1.name),
              decode_array(conv1.weights[1], c1, tagged=False, what=conv1.name),
              decode_array(conv2.weights[0], c2 * c1 * 9, tagged=True, what=conv2.name),
              decode_array(conv2.weights[1], c2, tagged=False, what=conv2.name)]
    fused = Layer(LAYER_TYPE, conv2.name + "_stem", list(conv1.bottoms), list(conv2.tops),
                  {"0": str(cin), "1": str(c1), "2": str(c2)},
                  [raw_array(np.asarray(a, np.float32)) for a in arrays])
    out = []
    for layer in layers:
        if layer is conv2:
            out.append(fused)
        elif layer is not conv1 and layer is not gelu:
            out.append(layer)
    return out, 1
