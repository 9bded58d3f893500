"""``pyhpe bench <suite>``: benchmarks that write a run directory (results.json, table.md, plot).

Suites (``pyhpe.cli.dispatch`` commands, imported only when run): ``peak`` (this CPU's fp32 /
bf16 / fp16 GEMM rate and copy bandwidth on one thread: the limits other tables are fractions
of), ``kernels`` (the native rotation
ops against the official 6DRepNet code, a clean PyTorch reference and torch.compile of it, timed
interleaved in one process), ``callpath`` (the overhead of each layer of the call path),
``mixer`` (the fused RepNeXt mixer against PyTorch), ``trgv2`` (a TRGv2 training step by
phase), ``predict`` (video prediction's frame rate and pose jitter), ``detect`` (a face detector's rate
per |yaw| bin on synthetic heads), ``deploy`` (batch-1 latency of each deployment runtime per
model), ``fused`` (whole-model latency of the fused ncnn layers), ``precision`` (the pose change
of each deploy precision on the synthetic test set), ``profile-ffn`` (the fused FFN
layer per stage), ``winograd`` (ncnn with Winograd convolutions on and off), ``throughput`` (a
training step against the official one), ``fixed-steps`` (fixed-step training comparisons) and
``cuda`` (the CUDA kernels against PyTorch on the GPU). Each writes results.json, table.md (naming
the CPU model and the load average) and a plot PNG to its run directory (``--out``;
pyhpe.bench.report has the shared pieces).
"""

from __future__ import annotations

# name -> (module, one-line help); each module's docstring is its `--help` text (DESCRIPTION)
COMMANDS: dict[str, tuple[str, str]] = {
    "peak": ("pyhpe.bench.peak", "this CPU's limits on one thread: fp32/bf16/fp16 GEMM GFLOP/s, copy GB/s"),
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
    "fused": ("pyhpe.bench.fused", ("whole-model ncnn latency of RepNeXt-M4 with the fused layers vs plain, "
                                   "RepVGG-B1g2 and onnxruntime (the C++ runtime)")),
    "precision": ("pyhpe.bench.precision", ("pose change of each deploy precision (fp32/fp16/bf16, the C++ runtime) "
                                           "on the synthetic test set")),
    "profile-ffn": ("pyhpe.bench.profile_ffn", ("per-stage time of RepNeXt-M4's channel MLPs before and after the "
                                               "fused FFN layer (pyhpe-profile)")),
    "winograd": ("pyhpe.bench.winograd", "ncnn models timed with Winograd 3x3 convolutions on and off"),
    "throughput": ("pyhpe.bench.throughput", ("training step of RepNeXt-M4 and RepVGG-B1g2 vs the official 6DRepNet "
                                             "step (--profile: by phase)")),
    "fixed-steps": ("pyhpe.bench.fixed_steps", ("train one configuration a fixed number of steps on synthetic heads "
                                               "and compare the held-out error")),
    "cuda": ("pyhpe.bench.cuda", ("the CUDA kernels vs PyTorch eager, torch.compile and cuDNN "
                                 "(skipped without a GPU)")),
}
