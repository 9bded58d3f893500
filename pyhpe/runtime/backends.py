"""Inference backends: each runs the network on a normalised (N, 3, S, S) float32 batch and
returns its raw output, (N, 6) for 6D exports or (N, 3, 3) for matrix exports.

* ``TorchBackend``: a pyhpe model file (.safetensors + JSON sidecar), put in deploy form.
* ``OnnxRuntimeBackend``: an exported .onnx (onnxruntime, CPU).
* ``NcnnBackend``: an exported .ncnn.param + .ncnn.bin (the ncnn Python package).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pyhpe.runtime.meta import DeployMeta, meta_path, read_meta


class Backend:
    """Common attributes: ``input_size`` (S), ``output`` ("6d" | "matrix"), ``meta``."""

    name = "base"
    meta: DeployMeta

    @property
    def input_size(self) -> int:
        return int(self.meta.input_size)

    @property
    def output(self) -> str:
        return self.meta.output

    def run(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


def _require(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


class TorchBackend(Backend):
    """PyTorch eager, deploy form (``reparameterize``), ``forward_6d``."""

    name = "torch"

    def __init__(self, model_path, threads: int | None = None, input_size: int | None = None,
                 deploy: bool = True):

        from pyhpe.models.io import load_model

        model, config = load_model(_require(model_path, "pyhpe model file"))
        self._init(model, config["model"], input_size or int(config.get("input_size", 224)),
                   threads, deploy)

    @classmethod
    def from_module(cls, model, name: str = "module", input_size: int = 224,
                    threads: int | None = None, deploy: bool = True) -> TorchBackend:
        """Wrap an in-memory SixDRepNet model (it is reparameterized in place when ``deploy``)."""
        self = cls.__new__(cls)
        self._init(model, name, input_size, threads, deploy)
        return self

    def _init(self, model, name: str, input_size: int, threads: int | None, deploy: bool) -> None:
        import torch

        from pyhpe.models import reparameterize

        if not hasattr(model, "forward_6d"):
            raise TypeError(f"{type(model).__name__} has no forward_6d: not a SixDRepNet model")
        model.eval()
        if deploy:
            reparameterize(model)
        self.model = model
        self.threads = threads
        self.meta = DeployMeta(model=name, input_size=int(input_size), output="6d")
        self._torch = torch

    def run(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(int(self.threads))
        try:
            with torch.inference_mode():
                return self.model.forward_6d(torch.from_numpy(x)).numpy().astype(np.float32)
        finally:
            torch.set_num_threads(previous)


class OnnxRuntimeBackend(Backend):
    """onnxruntime CPU session; a batch-1 graph is run sample by sample."""

    name = "onnxruntime"

    def __init__(self, model_path, threads: int | None = None, input_size: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("the onnxruntime backend needs `pip install onnxruntime`") from err
        path = _require(model_path, "ONNX model")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: onnxruntime cannot load it: {err}") from err
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        shape = inp.shape
        graph_size = shape[-1] if isinstance(shape[-1], int) else None
        meta = read_meta(path)
        out_rank = len(out.shape)
        if meta is None:
            size = input_size or graph_size
            if size is None:
                raise ValueError(f"{path}: dynamic spatial size and no sidecar; pass input_size")
            meta = DeployMeta(model=path.stem, input_size=int(size),
                              output="matrix" if out_rank == 3 else "6d",
                              input_name=inp.name, output_name=out.name)
        if graph_size is not None and graph_size != meta.input_size:
            raise ValueError(f"{path}: the graph takes {graph_size}x{graph_size}, the sidecar says "
                             f"{meta.input_size}")
        if input_size is not None and int(input_size) != meta.input_size:
            raise ValueError(f"{path}: model input is {meta.input_size}, input_size={input_size} given")
        self.meta = meta
        self._in, self._out = inp.name, out.name
        self._fixed_batch = shape[0] if isinstance(shape[0], int) else None

    def run(self, x: np.ndarray) -> np.ndarray:
        if self._fixed_batch == 1 and len(x) > 1:
            return np.concatenate([self.run(x[i:i + 1]) for i in range(len(x))])
        return np.asarray(self.session.run([self._out], {self._in: x})[0], dtype=np.float32)


class NcnnBackend(Backend):
    """ncnn (Python package); ``precision="fp32"`` turns every fp16 path off (bit-faithful to
    the exported weights), ``"fp16"`` keeps ncnn's defaults (fp16 storage/arithmetic where the
    CPU has them)."""

    name = "ncnn"

    def __init__(self, model_path, threads: int | None = None, input_size: int | None = None,
                 precision: str = "fp32"):
        try:
            import ncnn
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("the ncnn backend needs `pip install ncnn`") from err
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"precision must be 'fp32' or 'fp16', got {precision!r}")
        param = _require(model_path, "ncnn .param file")
        if not param.name.endswith(".param"):
            raise ValueError(f"{param}: give the ncnn .param file (its .bin must sit beside it)")
        weights = _require(param.with_name(param.name[: -len(".param")] + ".bin"), "ncnn .bin file")
        meta = read_meta(param)
        if meta is None:
            if input_size is None:
                raise ValueError(f"{param}: no sidecar {meta_path(param).name}; pass input_size")
            meta = DeployMeta(model=param.stem, input_size=int(input_size), input_name="in0",
                              output_name="out0")
        elif input_size is not None and int(input_size) != meta.input_size:
            raise ValueError(f"{param}: model input is {meta.input_size}, input_size={input_size} given")
        self.meta = meta
        self._ncnn = ncnn
        self.net = ncnn.Net()
        opt = self.net.opt
        opt.num_threads = int(threads or 1)
        fp16 = precision == "fp16"
        opt.use_fp16_storage = fp16
        opt.use_fp16_packed = fp16
        opt.use_fp16_arithmetic = fp16
        opt.use_vulkan_compute = False
        self.precision = precision
        if self.net.load_param(str(param)) != 0:
            raise ValueError(f"{param}: ncnn cannot parse it (not an ncnn .param, or a layer "
                             "this ncnn build lacks)")
        if self.net.load_model(str(weights)) != 0:
            raise ValueError(f"{weights}: ncnn cannot read the weights (truncated or mismatched .bin)")
        self.threads = int(threads or 1)

    def run(self, x: np.ndarray) -> np.ndarray:
        ncnn = self._ncnn
        outs = []
        for sample in x:
            ex = self.net.create_extractor()
            ex.input(self.meta.input_name, ncnn.Mat(np.ascontiguousarray(sample)).clone())
            ret, out = ex.extract(self.meta.output_name)
            if ret != 0:
                raise RuntimeError(f"ncnn extract({self.meta.output_name!r}) failed with {ret}")
            outs.append(np.array(out, dtype=np.float32).copy())
        y = np.stack(outs)
        return y.reshape(len(x), 3, 3) if self.meta.output == "matrix" else y.reshape(len(x), 6)
