"""Inference backends: each runs the network on a normalised (N, 3, S, S) float32 batch (plus,
for a task with extra graph inputs such as TRGv2's camera vectors, one (N, ...) array per input,
by name) and returns its raw outputs by name (the task's deploy outputs); the task decodes them
(pyhpe.tasks). Each backend's ``meta`` carries the model card and the graph's inputs.

* ``TorchBackend``: a pyhpe model file (.safetensors + JSON sidecar), put in deploy form.
* ``OnnxRuntimeBackend``: an exported .onnx (onnxruntime, CPU).
* ``NcnnBackend``: an exported .ncnn.param + .ncnn.bin (the ncnn Python package).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pyhpe.runtime.meta import DeployMeta, meta_path, meta_without_sidecar, read_meta


class Backend:
    """Common attributes: ``input_size`` (S), ``meta`` (card and graph outputs), ``task``."""

    name = "base"
    meta: DeployMeta

    @property
    def input_size(self) -> int:
        return int(self.meta.input_size)

    @property
    def card(self):
        return self.meta.card

    @property
    def task(self):
        from pyhpe.tasks import get_task

        return get_task(self.meta.card.task)

    def run(self, x: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def extra_arrays(self, x: np.ndarray, extra: dict[str, np.ndarray] | None) -> list[np.ndarray]:
        """The graph's extra inputs for batch ``x``, in graph order, checked (float32, C order)."""
        arrays = []
        for name, _, shape, _ in self.meta.extra_inputs:
            if not extra or name not in extra:
                raise ValueError(f"this {self.meta.card.task} graph needs the input {name!r} "
                                 f"({len(x)}, {', '.join(map(str, shape))})")
            a = np.ascontiguousarray(extra[name], dtype=np.float32)
            if a.shape != (len(x), *shape):
                raise ValueError(f"input {name!r} must be ({len(x)}, {', '.join(map(str, shape))}), got {a.shape}")
            arrays.append(a)
        return arrays


def _require(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


class TorchBackend(Backend):
    """PyTorch eager, deploy form (``reparameterize``), the task's default deploy outputs."""

    name = "torch"

    def __init__(self, model_path, threads: int | None = None, input_size: int | None = None,
                 deploy: bool = True, model_name: str | None = None):
        from pyhpe.models import load

        model, card = load(_require(model_path, "model weights"), model_name)
        if input_size is not None and int(input_size) != card.input_size:
            card = card.with_(input_size=int(input_size))
        self._init(model, card, threads, deploy)

    @classmethod
    def from_module(cls, model, card=None, input_size: int = 224, threads: int | None = None,
                    deploy: bool = True) -> TorchBackend:
        """Wrap an in-memory pose model (reparameterized in place when ``deploy``); ``card``
        defaults to the model's task's card at ``input_size``."""
        from pyhpe.tasks import task_of

        self = cls.__new__(cls)
        card = card or task_of(model).card(type(model).__name__, {}, int(input_size))
        self._init(model, card, threads, deploy)
        return self

    def _init(self, model, card, threads: int | None, deploy: bool) -> None:
        import torch

        from pyhpe.models import reparameterize
        from pyhpe.tasks import task_of

        task = task_of(model)
        model.eval()
        if deploy:
            reparameterize(model)
            card = card.with_(form="deploy")
        kind = task.default_deploy
        self.model = model
        self.graph = task.deploy_module(model, kind)
        self.threads = threads
        self.meta = DeployMeta(card=card, kind=kind,
                               outputs=tuple((n, n, s) for n, s in task.deploy_outputs(kind, model)),
                               extra_inputs=tuple((e.name, e.name, tuple(e.shape), tuple(e.layout))
                                                  for e in task.deploy_inputs))
        self._torch = torch

    def run(self, x: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        torch = self._torch
        args = [torch.from_numpy(x), *(torch.from_numpy(a) for a in self.extra_arrays(x, extra))]
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(int(self.threads))
        try:
            with torch.inference_mode():
                out = self.graph(*args)
        finally:
            torch.set_num_threads(previous)
        outs = out if isinstance(out, tuple) else (out,)
        return {name: o.numpy().astype(np.float32) for name, o in zip(self.meta.output_names, outs)}


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
        # No busy-waiting after a run: onnxruntime's spinning pool threads otherwise keep the cores
        # busy after Run returns and slow whatever runs next (measured on 2 cores: ncnn 2T right
        # after an onnxruntime call 89.7 ms instead of 46.3 ms; onnxruntime itself 58.5 vs 57.2 ms)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: onnxruntime cannot load it: {err}") from err
        inp, outs = self.session.get_inputs()[0], self.session.get_outputs()
        shape = inp.shape
        graph_size = shape[-1] if isinstance(shape[-1], int) else None
        meta = read_meta(path)
        if meta is None:
            size = input_size or graph_size
            if size is None:
                raise ValueError(f"{path}: dynamic spatial size and no sidecar; pass input_size")
            meta = meta_without_sidecar(path, size, inp.name, [o.name for o in outs], [len(o.shape) for o in outs])
        missing = [b for _, b, _ in meta.outputs if b not in {o.name for o in outs}]
        missing += [b for _, b, _, _ in meta.extra_inputs if b not in {i.name for i in self.session.get_inputs()}]
        if missing:
            raise ValueError(f"{path}: the graph has no input or output {missing[0]!r} that its sidecar names")
        if graph_size is not None and graph_size != meta.input_size:
            raise ValueError(f"{path}: the graph takes {graph_size}x{graph_size}, the sidecar says "
                             f"{meta.input_size}")
        if input_size is not None and int(input_size) != meta.input_size:
            raise ValueError(f"{path}: model input is {meta.input_size}, input_size={input_size} given")
        self.meta = meta
        self._in = inp.name
        self._fixed_batch = shape[0] if isinstance(shape[0], int) else None

    def run(self, x: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        arrays = self.extra_arrays(x, extra)
        if self._fixed_batch == 1 and len(x) > 1:
            names = self.meta.extra_input_names
            parts = [self.run(x[i:i + 1], {n: a[i:i + 1] for n, a in zip(names, arrays)}) for i in range(len(x))]
            return {k: np.concatenate([p[k] for p in parts]) for k in self.meta.output_names}
        feed = {self._in: x, **{b: a for (_, b, _, _), a in zip(self.meta.extra_inputs, arrays)}}
        values = self.session.run([b for _, b, _ in self.meta.outputs], feed)
        return {name: np.asarray(v, dtype=np.float32).reshape(len(x), *shape)
                for (name, _, shape), v in zip(self.meta.outputs, values)}


class NcnnBackend(Backend):
    """ncnn (Python package); ``precision="fp32"`` turns every fp16/bf16 path off (bit-faithful to
    the exported weights), ``"fp16"`` keeps ncnn's defaults (fp16 storage/arithmetic where the
    CPU has them), ``"bf16"`` turns on bf16 storage (where that ncnn build has it)."""

    name = "ncnn"

    def __init__(self, model_path, threads: int | None = None, input_size: int | None = None,
                 precision: str = "fp32"):
        try:
            import ncnn
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("the ncnn backend needs `pip install ncnn`") from err
        if precision not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be 'fp32', 'fp16' or 'bf16', got {precision!r}")
        param = _require(model_path, "ncnn .param file")
        if not param.name.endswith(".param"):
            raise ValueError(f"{param}: give the ncnn .param file (its .bin must sit beside it)")
        weights = _require(param.with_name(param.name[: -len(".param")] + ".bin"), "ncnn .bin file")
        meta = read_meta(param)
        if meta is None:
            if input_size is None:
                raise ValueError(f"{param}: no sidecar {meta_path(param).name}; pass input_size")
            meta = meta_without_sidecar(param, input_size, "in0", ["out0"], [2])
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
        opt.use_bf16_storage = precision == "bf16"
        opt.use_vulkan_compute = False
        self.precision = precision
        # pyhpe's strict check of the files first (pyhpe.runtime.ncnn_check, the C++ runtime's rules):
        # ncnn trusts what a .param says, and a corrupted or truncated one could crash it. ncnn
        # then parses the very .param text that was checked; the weights it reads from the file
        # again (the package's memory loader takes a str, not bytes).
        from pyhpe.runtime.ncnn_check import check_ncnn_model

        param_bytes = param.read_bytes()
        check_ncnn_model(param_bytes, weights.read_bytes(), param_name=str(param), bin_name=str(weights),
                         image_blob=meta.input_name, image_size=meta.input_size)
        if self.net.load_param_mem(param_bytes.decode("ascii")) != 0:
            raise ValueError(f"{param}: ncnn cannot parse it (not an ncnn .param, or a layer "
                             "this ncnn build lacks)")
        if self.net.load_model(str(weights)) != 0:
            raise ValueError(f"{weights}: ncnn cannot read the weights (truncated or mismatched .bin)")
        self.threads = int(threads or 1)

    def run(self, x: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        ncnn = self._ncnn
        arrays = self.extra_arrays(x, extra)
        outs: dict[str, list[np.ndarray]] = {name: [] for name in self.meta.output_names}
        for i, sample in enumerate(x):
            ex = self.net.create_extractor()
            # ncnn.Mat(array) borrows the array's memory: every array stays referenced until clone()
            ex.input(self.meta.input_name, ncnn.Mat(np.ascontiguousarray(sample)).clone())
            for (_, blob, _, _), a in zip(self.meta.extra_inputs, arrays):
                ex.input(blob, ncnn.Mat(a[i]).clone())
            for name, blob, _ in self.meta.outputs:
                ret, out = ex.extract(blob)
                if ret != 0:
                    raise RuntimeError(f"ncnn extract({blob!r}) failed with {ret}")
                outs[name].append(np.array(out, dtype=np.float32).copy())
        return {name: np.stack(v).reshape(len(x), *shape) if v else np.zeros((0, *shape), np.float32)
                for (name, _, shape), v in ((o, outs[o[0]]) for o in self.meta.outputs)}
