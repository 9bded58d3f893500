"""The strict check of an ncnn model (.param text + .bin bytes) before ncnn parses it.

One set of rules, in C++ (csrc/runtime/src/model_check.cpp documents them; docs/fuzzing.md):
``pyhpe_model_load`` runs it in the C++ runtime, and this module runs the same compiled code
through ``pyhpe._C`` in front of the ncnn Python backend (:class:`pyhpe.runtime.backends.NcnnBackend`)
and ``pyhpe bench winograd``, so a corrupted or truncated file is a one-line
:class:`NcnnModelError`, not a crash inside the ncnn package.
"""

from __future__ import annotations


class NcnnModelError(ValueError):
    """A .param/.bin pair that the check refuses; the message names the file, line and problem."""


def check_ncnn_model(param: bytes, weights: bytes, *, param_name: str = "model.param",
                     bin_name: str = "model.bin", image_blob: str = "", image_size: int = 0) -> None:
    """Raises :class:`NcnnModelError` (message: the file, the line, the problem) unless the
    .param text ``param`` and the .bin bytes ``weights`` pass the runtime's check. An Input
    without a declared shape whose blob is ``image_blob`` takes 3 x image_size x image_size."""
    from pyhpe import _C

    message = _C.check_ncnn_model(bytes(param), bytes(weights), param_name, bin_name, image_blob, int(image_size))
    if message is not None:
        raise NcnnModelError(message)
