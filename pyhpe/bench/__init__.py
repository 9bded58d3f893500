"""``pyhpe bench <suite>``: benchmarks that write a run directory (results.json, table.md, plot).

Suites (``pyhpe.cli.dispatch`` commands, imported only when run): ``kernels`` (the native rotation
ops against the official 6DRepNet code, a clean PyTorch reference and torch.compile of it, timed
interleaved in one process), ``callpath`` (the overhead of each layer of the call path),
``mixer`` (the fused RepNeXt mixer against PyTorch), ``trgv2`` (a TRGv2 training step by
phase), ``predict`` (video prediction's frame rate and pose jitter), ``detect`` (a face detector's rate
per |yaw| bin on synthetic heads), ``deploy`` (batch-1 latency of each deployment runtime per
model) and ``cuda`` (the CUDA kernels against PyTorch on the GPU). Each writes results.json, table.md
(naming the CPU model and the load average) and a plot PNG to its run directory (``--out``;
pyhpe.bench.report has the shared pieces).
"""

from __future__ import annotations

# name -> (module, one-line help); each module's docstring is its `--help` text (DESCRIPTION)
COMMANDS: dict[str, tuple[str, str]] = {
    "kernels": ("pyhpe.bench.kernels",
                "native rotation ops vs the official 6DRepNet code, a clean PyTorch reference and torch.compile"),
    "callpath": ("pyhpe.bench.callpath", "overhead of each layer of the call path at a small batch"),
    "mixer": ("pyhpe.bench.mixer", "the fused RepNeXt mixer vs PyTorch for every RepNeXt-M4 stage"),
    "trgv2": ("pyhpe.bench.trgv2", "where a TRGv2 training step spends its time, by phase"),
    "detect": ("pyhpe.bench.detect", "face detection rate and false positives per |yaw| bin on synthetic heads"),
    "predict": ("pyhpe.bench.predict", ("pyhpe predict on video: end-to-end frames/s, pose jitter with and "
                                       "without smoothing")),
    "deploy": ("pyhpe.bench.deploy", ("batch-1 latency of PyTorch (train and deploy form), onnxruntime and "
                                     "ncnn per model and thread count")),
    "cuda": ("pyhpe.bench.cuda", ("the CUDA kernels vs PyTorch eager, torch.compile and cuDNN "
                                 "(skipped without a GPU)")),
}
