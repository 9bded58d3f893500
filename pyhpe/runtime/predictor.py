"""One inference interface over three backends, with shared pre- and post-processing.

```python
from pyhpe.runtime import Predictor

p = Predictor("run/model.safetensors")                        # torch, any weights pyhpe.models.load reads
p = Predictor("build/m4.onnx", backend="onnxruntime", threads=2)
p = Predictor("build/m4.ncnn.param", backend="ncnn", precision="fp32")
out = p.predict(crops)              # crops: list of (H, W, 3) uint8 RGB face crops
out["sixd"], out["R"], out["euler_deg"]       # (N, 6), (N, 3, 3), (N, 3) pitch, yaw, roll
out = p.predict_faces(image_rgb, boxes_xyxy)  # the model card's crop of each face box first

p = Predictor("build/trgv2.onnx", backend="onnxruntime")      # a 6DoF (TRGv2) model
out = p.predict_sixdof(image_rgb, K=None, boxes=boxes_xyxy)   # or landmarks=[(68, 2), ...]
out["R"], out["t"], out["vertices"], out["landmarks"]        # (N, 3, 3), (N, 3) m, (N, V, 3), (N, 68, 2)
```

6DoF models take the full image: each face's crop is cut by the task's own evaluation crop
(pyhpe.data.sixdof_crop through the card's crop rule) and goes into the graph with its camera
vector (pyhpe.tasks.trgv2_6dof.CAMERA_LAYOUT). ``K=None``: the camera is unknown, and TRGv2's
assumption is used (f = W + H, principal point at the image centre;
:func:`~pyhpe.runtime.preprocess.default_intrinsics`); ``out["intrinsics"]`` says which K was used.

Preprocessing follows the model card (crop rule, input size, normalisation), so every backend
crops a model exactly as its evaluation did. Post-processing is the task's decode (rotation:
``pyhpe.ops.gram_schmidt`` and ``pyhpe.ops.matrix_to_euler``, the native kernels).
"""

from __future__ import annotations

import numpy as np

from pyhpe.runtime.backends import Backend, NcnnBackend, OnnxRuntimeBackend, TorchBackend
from pyhpe.runtime.preprocess import default_intrinsics, face_crop, prepare, sixdof_inputs

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
        precision: "fp32" or, for ncnn only, "fp16" (ncnn's fp16 storage/arithmetic) or "bf16"
            (ncnn's bf16 storage, where that ncnn build has it).
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

    @property
    def sixdof(self) -> bool:
        """Whether the model takes camera vectors beside its crops (a 6DoF model: TRGv2)."""
        return bool(self.backend.meta.extra_inputs)

    def predict(self, crops, extra: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Pose of each crop, decoded by the task (rotation: {"sixd": (N, 6), "R": (N, 3, 3),
        "euler_deg": (N, 3)}).

        ``crops``: list of (H, W, 3) uint8 RGB face crops (resized and centre-cropped as the
        card says), or a normalised (N, 3, S, S) float array / tensor. ``extra``: the graph's
        further inputs by name (6DoF: {"camera": (N, 11)}; :meth:`predict_sixdof` makes them).
        """
        x = self.preprocess(crops)
        raw = self.backend.run(x, extra) if self.sixdof else self.backend.run(x)
        return self.task.decode_for({**raw, **(extra or {})}, self.card)

    def predict_sixdof(self, image_rgb: np.ndarray, K=None, boxes=None, landmarks=None) -> dict[str, np.ndarray]:
        """6DoF pose, dense face and landmarks of the faces of one full RGB image.

        Faces are given as ``landmarks`` (a list of (68, 2) image-pixel arrays; the crop is their
        1.5× box, as in training) or ``boxes`` (x0, y0, x1, y1) standing for the landmarks' extent
        (a detector's box). ``K``: the full image's intrinsics (fx = fy, no skew); None: unknown,
        f = W + H with the principal point at the image centre (TRGv2's assumption).

        Returns the task's decoding ({"R", "t" (metres, camera frame), "vertices" (head frame),
        "landmarks" (crop pixels), "sixd", "correction", "euler_deg", "camera" (N, 11)}) plus
        "intrinsics" (3, 3), the K used, and "intrinsics_given" (bool).
        """
        from pyhpe.tasks.base import empty_results

        if not self.sixdof:
            raise ValueError(f"{self.card.model} is a {self.card.task} model: it predicts from crops "
                             "(predict / predict_faces), not from a full image with intrinsics")
        if (boxes is None) == (landmarks is None):
            raise ValueError("give the faces either as boxes or as landmarks")
        faces = list(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)) if boxes is not None else list(landmarks)
        h, w = np.asarray(image_rgb).shape[:2]
        given = K is not None
        K = np.asarray(K, dtype=np.float64) if given else default_intrinsics(h, w)
        if not faces:
            out = empty_results(self.task)
        else:
            x, camera = sixdof_inputs(image_rgb, K, faces, self.task, self.card)
            (name,) = self.backend.meta.extra_input_names
            out = self.predict(x, {name: camera})
            out["camera"] = camera
        out["intrinsics"], out["intrinsics_given"] = K, np.asarray(given)
        return out

    def predict_faces(self, image_rgb: np.ndarray, boxes_xyxy, K=None) -> dict[str, np.ndarray]:
        """Pose of each face box (x0, y0, x1, y1) of one RGB image (the card's crop first); a 6DoF
        model goes through :meth:`predict_sixdof` with ``K`` (None: unknown intrinsics)."""
        from pyhpe.tasks.base import empty_results

        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if self.sixdof:
            return self.predict_sixdof(image_rgb, K=K, boxes=boxes)
        if len(boxes) == 0:
            return empty_results(self.task)
        return self.predict([face_crop(image_rgb, b, self.card.crop) for b in boxes])
