"""One inference interface over three backends, with shared pre- and post-processing.

```python
from pyhpe.runtime import Predictor

p = Predictor("run/model.safetensors")                        # torch, any weights pyhpe.models.load reads
p = Predictor("build/m4.onnx", backend="onnxruntime", threads=2)
p = Predictor("build/m4.ncnn.param", backend="ncnn", precision="fp32")
out = p.predict(crops)              # crops: list of (H, W, 3) uint8 RGB face crops
out["sixd"], out["R"], out["euler_deg"]       # (N, 6), (N, 3, 3), (N, 3) pitch, yaw, roll
out = p.predict_faces(image_rgb, boxes_xyxy)  # the model card's crop of each face box first
```

Preprocessing follows the model card (crop rule, input size, normalisation), so every backend
crops a model exactly as its evaluation did. Post-processing is the task's decode (rotation:
``pyhpe.ops.gram_schmidt`` and ``pyhpe.ops.matrix_to_euler``, the native kernels).
"""

from __future__ import annotations

import numpy as np

from pyhpe.runtime.backends import Backend, NcnnBackend, OnnxRuntimeBackend, TorchBackend
from pyhpe.runtime.preprocess import face_crop, prepare

BACKENDS = ("torch", "onnxruntime", "ncnn")


def _make_backend(model_path, backend: str, threads: int | None, input_size: int | None,
                  precision: str, model_name: str | None) -> Backend:
    if backend == "torch":
        if precision != "fp32":
            raise ValueError("the torch backend runs fp32 only")
        return TorchBackend(model_path, threads=threads, input_size=input_size, model_name=model_name)
    if backend == "onnxruntime":
        if precision != "fp32":
            raise ValueError("the onnxruntime backend runs the graph as exported; use precision='fp32'")
        return OnnxRuntimeBackend(model_path, threads=threads, input_size=input_size)
    if backend == "ncnn":
        return NcnnBackend(model_path, threads=threads, input_size=input_size, precision=precision)
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


class Predictor:
    """Head pose from face crops with any backend (see the module docstring).

    Args:
        model_path: weights for torch (anything pyhpe.models.load reads), an .onnx
            (onnxruntime) or an .ncnn.param (ncnn; the .bin beside it). Exports carry a JSON
            sidecar with the model card and the graph's outputs.
        backend: "torch", "onnxruntime" or "ncnn".
        threads: CPU threads for the backend (None: the backend's default; ncnn: 1).
        input_size: the network's input side; checked against the model's when it has one.
        precision: "fp32" or, for ncnn only, "fp16" (ncnn's fp16 storage/arithmetic).
        model_name: torch only: the registry name for weights that do not name their model.
    """

    def __init__(self, model_path, backend: str = "torch", threads: int | None = None,
                 input_size: int | None = None, precision: str = "fp32", model_name: str | None = None):
        if threads is not None and int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.backend = _make_backend(model_path, backend, threads, input_size, precision, model_name)
        self.backend_name = backend
        self.task = self.backend.task

    @classmethod
    def from_module(cls, model, input_size: int = 224, threads: int | None = None, card=None) -> Predictor:
        """A torch Predictor over an in-memory pose model (reparameterized in place)."""
        self = cls.__new__(cls)
        self.backend = TorchBackend.from_module(model, card=card, input_size=input_size, threads=threads)
        self.backend_name = "torch"
        self.task = self.backend.task
        return self

    @property
    def input_size(self) -> int:
        return self.backend.input_size

    @property
    def card(self):
        """The model card: task, crop rule, input size, normalisation."""
        return self.backend.card

    def preprocess(self, crops) -> np.ndarray:
        card = self.card
        return prepare(crops, card.input_size, card.mean, card.std, card.crop)

    def predict(self, crops) -> dict[str, np.ndarray]:
        """Pose of each crop, decoded by the task (rotation: {"sixd": (N, 6), "R": (N, 3, 3),
        "euler_deg": (N, 3)}).

        ``crops``: list of (H, W, 3) uint8 RGB face crops (resized and centre-cropped as the
        card says), or a normalised (N, 3, S, S) float array / tensor.
        """
        x = self.preprocess(crops)
        return self.task.decode(self.backend.run(x))

    def predict_faces(self, image_rgb: np.ndarray, boxes_xyxy) -> dict[str, np.ndarray]:
        """Pose of each face box (x0, y0, x1, y1) of one RGB image (the card's crop first)."""
        from pyhpe.tasks.base import empty_results

        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return empty_results(self.task)
        return self.predict([face_crop(image_rgb, b, self.card.crop) for b in boxes])
