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

from pyhpe.export.ncnn_graph import (
    Layer,
    consumers,
    decode_array,
    plain_conv,
    raw_array,
    sole_consumer,
)

LAYER_TYPE = "PyhpeRepNeXtStem"


def fuse_stem(layers: list[Layer]) -> tuple[list[Layer], int]:
    """The layer list with the stem chain after the first Input replaced (at the second
    convolution's place); returns (layers, 1 if a stem was fused else 0)."""
    users = consumers(layers)
    inputs = [layer for layer in layers if layer.type == "Input"]
    if not inputs:
        return layers, 0

    conv1 = sole_consumer(users, inputs[0].tops[0])
    shape1 = plain_conv(conv1, 3, 2, 1)
    if shape1 is None:
        return layers, 0
    gelu = sole_consumer(users, conv1.tops[0])
    if gelu is None or gelu.type != "GELU" or gelu.int_param(0, 0) != 0 or len(gelu.tops) != 1:
        return layers, 0
    conv2 = sole_consumer(users, gelu.tops[0])
    shape2 = plain_conv(conv2, 3, 2, 1)
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
