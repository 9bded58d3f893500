"""Export: a SixDRepNet model in deploy form -> ONNX -> ncnn, each file verified against PyTorch.

``export_model(model, out, fmt="onnx"|"ncnn", ...)`` is the one call (see :mod:`pyhpe.export.api`);
``pyhpe export`` is its command line.
"""

from __future__ import annotations

from pyhpe.export.api import ExportResult, export_model
from pyhpe.export.verify import VerificationError

__all__ = ["ExportResult", "VerificationError", "export_model"]
