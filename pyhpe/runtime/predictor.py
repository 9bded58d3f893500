"""One inference interface over three backends, with shared pre- and post-processing.

```python
from pyhpe.runtime import Predictor

p = Predictor("run/model.safetensors")                        # torch, a pyhpe model file
p = Predictor("build/m4.onnx", backend="onnxruntime", threads=2)
p = Predictor("build/m4.ncnn.param", backend="ncnn", precision="fp32")
out = p.predict(crops)              # crops: list of (H, W, 3) uint8 RGB face crops
out["sixd"], out["R"], out["euler_deg"]       # (N, 6), (N, 3, 3), (N, 3) pitch, yaw, roll
out = p.predict_faces(image_rgb, boxes_xyxy)  # 6DRepNet test crop of each face box first
```

Post-processing is ``pyhpe.ops.gram_schmidt`` and ``pyhpe.ops.matrix_to_euler`` (the native
kernels); a matrix-output export skips Gram-Schmidt and its 6D is the matrix's first two columns.
"""

from __future__ import annotations

import numpy as np
import torch

from pyhpe.runtime.backends import Backend, NcnnBackend, OnnxRuntimeBackend, TorchBackend
from pyhpe.runtime.preprocess import face_crop, prepare

BACKENDS = ("torch", "onnxruntime", "ncnn")


def postprocess(raw: np.ndarray, output: str) -> dict[str, np.ndarray]:
    """Raw network output -> {"sixd": (N, 6), "R": (N, 3, 3), "euler_deg": (N, 3)} float32."""
    from pyhpe.geometry.rotation import matrix_to_sixd
    from pyhpe.ops import gram_schmidt, matrix_to_euler

    t = torch.from_numpy(np.ascontiguousarray(raw, dtype=np.float32))
    if output == "6d":
        sixd, R = t.reshape(-1, 6), gram_schmidt(t.reshape(-1, 6))
    elif output == "matrix":
        R = t.reshape(-1, 3, 3)
        sixd = matrix_to_sixd(R)
    else:
        raise ValueError(f"unknown output kind {output!r}")
    euler = matrix_to_euler(R, degrees=True)
    return {"sixd": sixd.numpy(), "R": R.numpy(), "euler_deg": euler.numpy()}


def _make_backend(model_path, backend: str, threads: int | None, input_size: int | None,
                  precision: str) -> Backend:
    if backend == "torch":
        if precision != "fp32":
            raise ValueError("the torch backend runs fp32 only")
        return TorchBackend(model_path, threads=threads, input_size=input_size)
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
        model_path: a pyhpe model file (.safetensors, torch), an .onnx (onnxruntime) or an
            .ncnn.param (ncnn; the .bin beside it). Exports carry a JSON sidecar with the input
            size and output kind.
        backend: "torch", "onnxruntime" or "ncnn".
        threads: CPU threads for the backend (None: the backend's default; ncnn: 1).
        input_size: the network's input side; checked against the model's when it has one.
        precision: "fp32" or, for ncnn only, "fp16" (ncnn's fp16 storage/arithmetic).
    """

    def __init__(self, model_path, backend: str = "torch", threads: int | None = None,
                 input_size: int | None = None, precision: str = "fp32"):
        if threads is not None and int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.backend = _make_backend(model_path, backend, threads, input_size, precision)
        self.backend_name = backend

    @classmethod
    def from_module(cls, model, input_size: int = 224, threads: int | None = None) -> Predictor:
        """A torch Predictor over an in-memory SixDRepNet model (reparameterized in place)."""
        self = cls.__new__(cls)
        self.backend = TorchBackend.from_module(model, input_size=input_size, threads=threads)
        self.backend_name = "torch"
        return self

    @property
    def input_size(self) -> int:
        return self.backend.input_size

    def preprocess(self, crops) -> np.ndarray:
        meta = self.backend.meta
        return prepare(crops, self.input_size, meta.mean, meta.std)

    def predict(self, crops) -> dict[str, np.ndarray]:
        """Pose of each crop: {"sixd": (N, 6), "R": (N, 3, 3), "euler_deg": (N, 3)}.

        ``crops``: list of (H, W, 3) uint8 RGB face crops (resized and centre-cropped as in
        evaluation), or a normalised (N, 3, S, S) float array / tensor.
        """
        x = self.preprocess(crops)
        return postprocess(self.backend.run(x), self.backend.output)

    def predict_faces(self, image_rgb: np.ndarray, boxes_xyxy) -> dict[str, np.ndarray]:
        """Pose of each face box (x0, y0, x1, y1) of one RGB image (6DRepNet test crop first)."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return {"sixd": np.zeros((0, 6), np.float32), "R": np.zeros((0, 3, 3), np.float32),
                    "euler_deg": np.zeros((0, 3), np.float32)}
        return self.predict([face_crop(image_rgb, b) for b in boxes])
