"""``pyhpe info``: what this installation was built with and what it runs on."""

from __future__ import annotations

import argparse
import json
import platform


def collect() -> dict:
    """Build and runtime facts: native kernels, CPU, CUDA, library versions."""
    import numpy
    import torch

    import pyhpe

    info: dict = {"pyhpe": pyhpe.__version__, "python": platform.python_version(),
                  "torch": torch.__version__, "numpy": numpy.__version__,
                  "machine": platform.machine()}
    try:
        from pyhpe import _C

        info["native"] = _C.build_info()
    except ImportError as exc:
        info["native"] = {"error": f"pyhpe._C failed to import: {exc}"}
    info["torch_threads"] = torch.get_num_threads()
    info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    info["cuda_device"] = (torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    return info


def format_info(info: dict) -> str:
    native = info["native"]
    lines = [f"pyhpe {info['pyhpe']}  (python {info['python']}, torch {info['torch']}, "
             f"numpy {info['numpy']}, {info['machine']})"]
    if "error" in native:
        lines.append(f"native kernels: NOT AVAILABLE ({native['error']}); ops use the "
                     "pure-PyTorch reference")
        return "\n".join(lines)
    omp = native["openmp"]
    lines += [
        f"native kernels : pyhpe._C {native['version']}, compiler {native['compiler']}",
        f"CPU SIMD       : running {native['cpu_isa']} "
        f"(compiled: {', '.join(native['cpu_isa_compiled'])}); torch sees "
        f"{info['torch_cpu_capability']}",
        f"NEON           : {'yes' if native['neon'] else 'no (not an ARM build)'}",
        f"OpenMP         : {'yes (' + str(omp) + ')' if omp else 'no'}; threads follow "
        f"torch.get_num_threads() = {info['torch_threads']}, batches >= "
        f"{native['parallel_threshold']} are split",
        f"CUDA kernels   : {'built for sm ' + native['cuda_arches'] if native['cuda'] else 'not built'}"
        f"; device: {info['cuda_device'] or 'none visible'}",
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")


def run(args: argparse.Namespace) -> int:
    info = collect()
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0
