"""Synthetic head renderer: procedurally generated textured heads with exact 6DoF labels.

Quick use::

    from pyhpe.data.synthetic import SyntheticHeads, SynthConfig
    ds = SyntheticHeads(n=10000, seed=0, config=SynthConfig(size=224))
    sample = ds[3]          # pyhpe.data.sample.Sample, always the same image for (seed, 3)

See docs/synthetic.md for the head frame, the label conventions and measured speed.
"""

from pyhpe.data.synthetic.config import SynthConfig
from pyhpe.data.synthetic.dataset import SyntheticHeads
from pyhpe.data.synthetic.render import Scene, render_index, render_scene, sample_scene

__all__ = ["Scene", "SynthConfig", "SyntheticHeads", "render_index", "render_scene", "sample_scene"]
