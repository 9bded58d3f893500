"""Rewrite a RepNeXt block's channel MLP + residual add into the ``PyhpeRepNeXtFFN`` layer.

pnnx exports each RepNeXt block's MLP as ncnn's own layers::

    Convolution 1x1 (C -> hidden, bias) -> GELU -> Convolution 1x1 (hidden -> C, bias) -> BinaryOp add(r, ·)

:func:`fuse_ffn_layers` replaces every such chain by one ``PyhpeRepNeXtFFN`` layer (the C++
runtime's custom layer, csrc/runtime/src/ffn_layer.h: y = r + W2 GELU(W1 h + b1) + b2 per pixel).
Inputs ``[h, r]``; when h and r are the two outputs of one two-way Split (a block after a
downsample mixer adds the MLP to its own input) the Split goes and the layer takes one input.
The weights are copied from the two convolutions (fp32, or fp16 widened to fp32); every other
layer stays as it was. :func:`unpack_splits` then turns each Split that feeds only pyhpe's fused
layers into ``PyhpeSplit`` (csrc/runtime/src/split_layer.h), which ncnn does not repack. Used by
:func:`pyhpe.export.ncnn_fuse.fuse_mixers` for the fused pair.
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

LAYER_TYPE = "PyhpeRepNeXtFFN"
SPLIT_TYPE = "PyhpeSplit"


def _pointwise(layer: Layer | None, cin: int | None = None, cout: int | None = None) -> tuple[int, int] | None:
    """(in, out) channels of a plain 1x1 convolution with bias (:func:`plain_conv`: stride 1, no
    padding), else None; cin/cout, when given, must match."""
    shape = plain_conv(layer, 1, 1, 0)
    if shape is None or (cin is not None and shape[0] != cin) or (cout is not None and shape[1] != cout):
        return None
    return shape


def _match(users: dict[str, list[Layer]], producer: dict[str, Layer], conv1: Layer):
    """conv1 -> GELU -> conv2 -> add: (fused layer, removed layers, removed Split or None), or None."""
    shape = _pointwise(conv1)
    if shape is None:
        return None
    cin, hidden = shape
    gelu = sole_consumer(users, conv1.tops[0])
    if gelu is None or gelu.type != "GELU" or gelu.int_param(0, 0) != 0:  # 0=0: the exact (erf) GELU
        return None
    conv2 = sole_consumer(users, gelu.tops[0])
    if _pointwise(conv2, hidden, cin) is None or conv2.bottoms != gelu.tops:
        return None
    add = sole_consumer(users, conv2.tops[0])
    if (add is None or add.type != "BinaryOp" or add.int_param(0, 0) != 0 or add.int_param(1, 0) != 0
            or len(add.bottoms) != 2 or conv2.tops[0] not in add.bottoms):
        return None
    h = conv1.bottoms[0]
    r = add.bottoms[0] if add.bottoms[1] == conv2.tops[0] else add.bottoms[1]
    if r == conv2.tops[0]:
        return None
    split = producer.get(h)
    bottoms, removed_split = [h, r], None
    if (split is not None and split.type == "Split" and h != r and sorted(split.tops) == sorted([h, r])
            and sole_consumer(users, h) is conv1 and sole_consumer(users, r) is add):
        bottoms, removed_split = [split.bottoms[0]], split
    w1 = decode_array(conv1.weights[0], hidden * cin, tagged=True, what=conv1.name)
    b1 = decode_array(conv1.weights[1], hidden, tagged=False, what=conv1.name)
    w2 = decode_array(conv2.weights[0], cin * hidden, tagged=True, what=conv2.name)
    b2 = decode_array(conv2.weights[1], cin, tagged=False, what=conv2.name)
    fused = Layer(LAYER_TYPE, add.name + "_ffn", bottoms, list(add.tops), {"0": str(cin), "1": str(hidden)},
                  [raw_array(np.asarray(a, np.float32)) for a in (w1, b1, w2, b2)])
    return fused, [conv1, gelu, conv2, add], removed_split


def fuse_ffn_layers(layers: list[Layer]) -> tuple[list[Layer], int]:
    """The layer list with every MLP chain replaced (at its BinaryOp's place, so the order stays
    topological); returns (layers, number of chains fused)."""
    users = consumers(layers)
    producer = {t: layer for layer in layers for t in layer.tops}
    replace: dict[int, Layer] = {}
    drop: set[int] = set()
    for layer in layers:
        if id(layer) in drop:
            continue
        found = _match(users, producer, layer)
        if found is None:
            continue
        fused, removed, split = found
        if any(id(r) in drop for r in removed) or (split is not None and id(split) in drop):
            continue
        replace[id(removed[-1])] = fused
        drop.update(id(r) for r in removed)
        if split is not None:
            drop.add(id(split))
    out = [replace.get(id(layer), layer) for layer in layers if id(layer) not in drop or id(layer) in replace]
    return out, len(replace)


def unpack_splits(layers: list[Layer]) -> tuple[list[Layer], int]:
    """Every Split whose consumers are all pyhpe fused layers (``Pyhpe*``) becomes ``PyhpeSplit``:
    ncnn would pack an ncnn Split's input, and each elempack-1 consumer would unpack it again.
    Returns (layers, number changed)."""
    users = consumers(layers)
    out, count = [], 0
    for layer in layers:
        readers = [u for t in layer.tops for u in users.get(t, [])]
        if layer.type == "Split" and readers and all(u.type.startswith("Pyhpe") for u in readers):
            layer = Layer(SPLIT_TYPE, layer.name, layer.bottoms, layer.tops, dict(layer.params), layer.weights)
            count += 1
        out.append(layer)
    return out, count
