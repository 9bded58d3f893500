"""Datasets: one loader module per on-disk format, all yielding :class:`~pyhpe.data.sample.Sample`.

Formats and layouts: docs/data.md. Loaders: ``w300lp``, ``aflw2000``, ``biwi`` (FSA npz),
``biwi_raw``, ``arkitface``, ``sixdof`` (pyhpe's 6DoF layout), ``ddpose``; ``sources.open_source``
opens any of them. Transforms: ``transforms``. Tools: ``pyhpe data …`` (``cli``).
"""

from pyhpe.data.sample import Sample

__all__ = ["Sample"]
