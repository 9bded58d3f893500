"""The official 6DRepNet code (pip package ``sixdrepnet``) as an independent reference.

The package is installed with ``pip install --no-deps sixdrepnet==0.1.6`` (its dependencies
would pull torchvision and an unpinned torch). Its ``__init__`` imports modules we do not
install, so its files are loaded by path instead of imported as a package.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

INSTALL_HINT = "pip install --no-deps sixdrepnet==0.1.6"


def official_root() -> Path | None:
    """The installed ``sixdrepnet`` folder, or None when it is not installed."""
    spec = importlib.util.find_spec("sixdrepnet")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_official_functions() -> types.SimpleNamespace:
    """``utils`` (Gram-Schmidt, Euler, get_R) and ``loss`` (GeodesicLoss) of the official code.

    Raises ModuleNotFoundError with the install command when the package is missing.
    """
    root = official_root()
    if root is None:
        raise ModuleNotFoundError(f"the official 6DRepNet package is not installed: {INSTALL_HINT}")
    utils = _load("_official_6drepnet_utils", root / "utils.py")
    loss = _load("_official_6drepnet_loss", root / "loss.py")
    return types.SimpleNamespace(utils=utils, loss=loss, root=root)


def load_official_model_code() -> types.SimpleNamespace:
    """``model`` (SixDRepNet), ``repvgg`` (its backbone), ``utils`` and ``loss`` of the official code.

    model.py imports ``backbone.repvgg`` and ``utils`` as top-level modules; they are provided in
    ``sys.modules`` only while it loads, then the previous entries are restored.
    """
    root = official_root()
    if root is None:
        raise ModuleNotFoundError(f"the official 6DRepNet package is not installed: {INSTALL_HINT}")
    names = ("backbone", "backbone.se_block", "backbone.repvgg", "utils")
    saved = {n: sys.modules.get(n) for n in names}
    try:
        package = types.ModuleType("backbone")
        package.__path__ = [str(root / "backbone")]
        sys.modules["backbone"] = package
        sys.modules["backbone.se_block"] = _load(
            "backbone.se_block", root / "backbone" / "se_block.py")
        repvgg = sys.modules["backbone.repvgg"] = _load(
            "backbone.repvgg", root / "backbone" / "repvgg.py")
        utils = sys.modules["utils"] = _load("utils", root / "utils.py")
        model = _load("_official_6drepnet_model", root / "model.py")
        loss = _load("_official_6drepnet_loss", root / "loss.py")
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
    return types.SimpleNamespace(model=model, repvgg=repvgg, utils=utils, loss=loss, root=root)
