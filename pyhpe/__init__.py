"""pyhpe: head pose estimation with native kernels.

Subpackages: ``ops`` (native kernels as torch custom ops), ``geometry`` (rotation conventions),
``models``, ``data``, ``engine``, ``export``, ``runtime``.
"""

__version__ = "0.1.0"
