"""TRGv2 (6DoF head pose + dense face): the model, its blocks and the face topology.

Registered models: ``trgv2_resnet18`` (the paper), ``trgv2_repnext_m4`` (the proposal's
backbone under TRGv2) and ``trgv2_repnext_m0`` (small, for CPU demos and tests). Factory keyword
arguments: ``topology`` ("synthetic" — our renderer's head, pyhpe.models.trg.topology —,
"official:DIR" — ARKit's, from the official TRGv2 data files — or a topology dict), ``iterations``, ``form``, ``translation``, ``dropout``, ``hidden`` (see
:class:`~pyhpe.models.trg.model.TRGv2`). The task ``trgv2_6dof`` (pyhpe.tasks) trains,
evaluates and exports it.
"""

from __future__ import annotations

from functools import lru_cache

from pyhpe.models import registry
from pyhpe.models.trg.model import TRGv2
from pyhpe.models.trg.topology import FaceTopology, synthetic_topology

__all__ = ["OFFICIAL_PREFIX", "FaceTopology", "TRGv2", "resolve_topology", "synthetic_topology"]

BACKBONES = ("resnet18", "repnext_m4", "repnext_m0")  # each registers trgv2_<name>


OFFICIAL_PREFIX = "official:"


def resolve_topology(topology: str | dict | FaceTopology = "synthetic") -> FaceTopology:
    """A FaceTopology from its name ("synthetic" or "synthetic_<lat>x<lon>"), its dict form, or
    ``"official:DIR"``: the ARKit topology of the official TRGv2 files in DIR
    (:func:`pyhpe.models.trg.official.read_official_topology`; a model card stores the dict)."""
    if isinstance(topology, FaceTopology):
        return topology
    if isinstance(topology, dict):
        return FaceTopology.from_dict(topology)
    if isinstance(topology, str) and topology.startswith(OFFICIAL_PREFIX):
        return _official_topology(topology[len(OFFICIAL_PREFIX):])
    if topology == "synthetic":
        return synthetic_topology()
    if isinstance(topology, str) and topology.startswith("synthetic_"):
        lat, _, lon = topology[len("synthetic_"):].partition("x")
        if lat.isdigit() and lon.isdigit():
            return synthetic_topology(int(lat), int(lon))
    raise ValueError(f"unknown topology {topology!r}: use 'synthetic', 'synthetic_<lat>x<lon>', "
                     "'official:DIR' (the official TRGv2 data files) or a topology dict "
                     "(FaceTopology.to_dict)")


@lru_cache(maxsize=4)
def _official_topology(data_dir: str) -> FaceTopology:
    from pyhpe.models.trg.official import read_official_topology

    return read_official_topology(data_dir)


def _register(backbone_name: str) -> None:
    def factory(topology: str | dict = "synthetic", input_size: int = 192, **kwargs) -> TRGv2:
        model = TRGv2(registry.get_factory(backbone_name)(), resolve_topology(topology), **kwargs)
        model._input_size = int(input_size)
        return model

    factory.pose_task = TRGv2.pose_task
    factory.__name__ = f"trgv2_{backbone_name}"
    factory.__doc__ = f"TRGv2 6DoF head pose on {backbone_name}."
    registry.register_model(f"trgv2_{backbone_name}")(factory)


for _name in BACKBONES:
    _register(_name)
