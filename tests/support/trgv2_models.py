"""Small random TRGv2 models for the export and runtime tests (imported, not a fixture module)."""

from __future__ import annotations

import torch


def random_trgv2(name: str = "trgv2_repnext_m0", size: int = 64, **kwargs) -> torch.nn.Module:
    """Random weights with non-trivial BatchNorm statistics and regressor heads large enough that
    the second iteration's sampling points move (the released init keeps them near zero)."""
    from pyhpe.models import create_model

    torch.manual_seed(0)
    model = create_model(name, input_size=size, **kwargs).eval()
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    for reg in model.regressors:
        torch.nn.init.xavier_uniform_(reg.pose_head.weight, gain=0.3)
        torch.nn.init.xavier_uniform_(reg.shape_head.weight, gain=0.3)
    return model
