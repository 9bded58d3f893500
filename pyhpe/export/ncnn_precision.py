"""Which layers of the fused ncnn pair stay fp32 when the runtime runs in 16-bit storage.

Under bf16 storage (x86) every blob between ncnn layers keeps 8 significant bits, the network's
output included. On the demo's trained RepNeXt-M0 that moves the pose 0.094° from fp32 on
average; the two ends of the network carry most of it (docs/deployment.md, "Precision"):

- the pose head: ncnn's InnerProduct writes the 6D output in bf16, and that rounding alone moves
  the pose ~0.06° (Gram-Schmidt of the rounded 6D against the exact one);
- the stem: the first convolutions, on the normalised image.

ncnn keeps a layer in fp32 when its .param line carries featmask ``31=`` (bit 1: no fp16
storage, bit 2: no bf16 storage), but it hands a masked layer a 16-bit blob unconverted, so a
masked layer must receive fp32. :func:`keep_fp32_ends` therefore masks

- the stem, the chain of convolutions and activations from the image input, whose input is
  fp32 already: bf16 only (fp16 keeps 11 bits, and a phone runs ncnn's convolutions faster in
  fp16); the fused stem layer ``PyhpeRepNeXtStem`` (fp32 arithmetic) for both, so that ncnn
  never casts the image to 16 bits in front of it;
- the head, a global Pooling feeding the output InnerProduct: both masked for fp16 and bf16,
  with a ``PyhpeWiden`` layer (csrc/runtime/src/widen_layer.h) in front that hands them fp32.

In fp32 nothing changes: featmask only masks 16-bit options and PyhpeWiden passes fp32 through.
"""

from __future__ import annotations

from pyhpe.export.ncnn_graph import Layer, consumers

WIDEN_TYPE = "PyhpeWiden"
FEATMASK_KEY = "31"
NO_FP16_STORAGE, NO_BF16_STORAGE = 1 << 1, 1 << 2
STEM_TYPES = frozenset(["Convolution", "ConvolutionDepthWise", "BatchNorm", "GELU", "ReLU", "HardSwish", "Swish",
                        "PyhpeRepNeXtStem"])
FP32_ONLY = frozenset(["PyhpeRepNeXtStem"])  # stem layers masked for fp16 as well


def _mask(layer: Layer, bits: int) -> Layer:
    params = dict(layer.params)
    params[FEATMASK_KEY] = str(int(params.get(FEATMASK_KEY, "0")) | bits)
    return Layer(layer.type, layer.name, list(layer.bottoms), list(layer.tops), params, layer.weights)


def _stem(layers: list[Layer], users: dict[str, list[Layer]]) -> list[Layer]:
    """The convolutions and activations that follow the first Input one after another."""
    chain: list[Layer] = []
    inputs = [layer for layer in layers if layer.type == "Input"]
    if not inputs:
        return chain
    blob = inputs[0].tops[0]
    while len(users.get(blob, [])) == 1:
        layer = users[blob][0]
        if layer.type not in STEM_TYPES or len(layer.bottoms) != 1 or len(layer.tops) != 1:
            break
        chain.append(layer)
        blob = layer.tops[0]
    return chain


def _head(layers: list[Layer], users: dict[str, list[Layer]]) -> tuple[Layer, Layer] | None:
    """(global Pooling, InnerProduct) where an InnerProduct writing a graph output reads only a
    global Pooling's output, else None."""
    producer = {t: layer for layer in layers for t in layer.tops}
    for fc in layers:
        if fc.type != "InnerProduct" or users.get(fc.tops[0]):
            continue
        pool = producer.get(fc.bottoms[0])
        if (pool is not None and pool.type == "Pooling" and pool.int_param(4, 0) == 1
                and len(users.get(pool.tops[0], [])) == 1):
            return pool, fc
    return None


def keep_fp32_ends(layers: list[Layer]) -> tuple[list[Layer], dict[str, int]]:
    """The layer list with the stem masked for bf16 (the fused stem layer for fp16 too) and the
    pose head kept in fp32 (see the module docstring); returns (layers, {"stem": layers masked, "head": 1 or 0})."""
    users = consumers(layers)
    stem = {id(layer) for layer in _stem(layers, users)}
    head = _head(layers, users)
    out: list[Layer] = []
    for layer in layers:
        if id(layer) in stem:
            out.append(_mask(layer, NO_BF16_STORAGE | (NO_FP16_STORAGE if layer.type in FP32_ONLY else 0)))
        elif head is not None and layer is head[0]:
            wide = layer.bottoms[0] + "_fp32"
            while wide in users or any(wide in other.tops for other in layers):
                wide += "_"
            out.append(Layer(WIDEN_TYPE, layer.name + "_widen", [layer.bottoms[0]], [wide]))
            out.append(_mask(Layer(layer.type, layer.name, [wide], list(layer.tops), dict(layer.params),
                                   layer.weights), NO_FP16_STORAGE | NO_BF16_STORAGE))
        elif head is not None and layer is head[1]:
            out.append(_mask(layer, NO_FP16_STORAGE | NO_BF16_STORAGE))
        else:
            out.append(layer)
    return out, {"stem": len(stem), "head": int(head is not None)}
