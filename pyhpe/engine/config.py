"""Training configs: YAML files merged over defaults, ``key.sub=value`` overrides, validation.

A config is a nested dict. Every key must exist in :data:`DEFAULTS` (typos are errors, not silently
ignored), values are checked for type and range, and any problem raises :class:`ConfigError` with a
one-line message that the CLI prints (exit code 2) instead of a traceback.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A bad config value, an unknown key or a missing file; the message is one line."""


# A data source: format is one of pyhpe.data.sources.FORMATS or "synthetic".
SOURCE_DEFAULTS: dict[str, Any] = {
    "name": None,  # label in logs and metrics.json (default: the format)
    "format": "synthetic",
    "path": None,  # folder, file list or npz (not for synthetic)
    "n": 1000,  # synthetic: number of images
    "seed": 0,  # synthetic: image stream
    "render_size": 128,  # synthetic: rendered frame side (px)
    "margin_crop": True,  # 6DRepNet's crop from the landmark box (False for pre-cropped BIWI npz)
    "filter99": False,  # keep only |pitch|,|yaw|,|roll| <= 99° (AFLW2000 protocol)
    "split_fraction": None,  # (lo, hi) fraction of the items to use, e.g. BIWI 70/30 by index
    "keep_bgr": False,  # BIWI npz: feed FSA's BGR pixels as 6DRepNet did
    "depth": None,  # synthetic: [near, far] head distance in metres (default: the renderer's)
    "synth": None,  # synthetic: other renderer settings (SynthConfig fields), e.g. {yaw: [-60, 60]}
    # the loader's split (None: its default): arkitface train|test, ddpose train|val|test|all
    # (TRGv2's subject split; default all); other formats have none
    "split": None,
}

DEFAULTS: dict[str, Any] = {
    "name": "run",
    "model": {"name": "sixdrepnet_repnext_m4", "pretrained": None, "kwargs": {}},
    "data": {
        "train": dict(SOURCE_DEFAULTS),
        "val": [],  # list of sources, evaluated after every epoch (and at the end)
        "input_size": 224,
        "test_resize": 256,  # shorter side before the centre crop at test time
        "test_margin": 0.2,  # k of 6DRepNet's fixed-margin test box (AFLW2000: 0.2)
        "workers": 2,
    },
    # rotate / rotate_deg: 6DoF tasks' in-plane rotation (probability, max angle in degrees)
    "augment": {"flip": 0.5, "blur": 0.05, "scale": [0.8, 1.0], "jitter": 0.0, "noise": 0.0,
                "rotate": 0.0, "rotate_deg": 30.0},
    "train": {
        "epochs": 30,
        "batch_size": 64,  # global batch (split over DDP ranks)
        "lr": 1e-4,
        "min_lr": 0.0,
        "weight_decay": 0.05,
        "warmup_epochs": 1.0,  # linear warm-up (fractions allowed), then cosine decay to min_lr
        "schedule": "cosine",  # cosine (to min_lr) | step (×lr_gamma at each of lr_steps; TRGv2's StepLR)
        "lr_steps": [20],  # step schedule: epochs after which the rate is multiplied by lr_gamma
        "lr_gamma": 0.1,
        "grad_clip": 1.0,  # max global gradient norm, 0 = off
        "amp": "none",  # none | bf16 | fp16 (fp16 on CUDA only, with a GradScaler)
        "ema": 0.0,  # EMA decay per step (e.g. 0.999), 0 = off
        "freeze_bn": False,  # BatchNorm in eval mode while training (fine-tuning; exact DDP parity)
        "channels_last": False,  # NHWC model and batches (faster for small RepNeXt steps on the CPU)
        "seed": 0,
        "max_steps_per_epoch": 0,  # 0 = whole epoch; >0 truncates (smoke runs, tests)
        "checkpoint_every": 0,  # > 0: also write checkpoints/last.safetensors every N steps inside epochs
        "time_limit_s": 0.0,  # > 0: stop (checkpoint, final eval) once training has run this long
        "eval_every": 1,  # epochs between validations (0 = only at the end)
        "device": "auto",  # auto | cpu | cuda
        "threads": 0,  # torch threads per process, 0 = leave as is
    },
    "output": {"dir": "runs", "progress": True},
}

_SOURCE_FORMATS = ("synthetic", "300wlp", "aflw2000", "biwi-npz", "biwi-raw", "arkitface", "sixdof", "ddpose")


def _merge(base: dict, update: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if key not in base:
            known = ", ".join(sorted(base))
            raise ConfigError(f"unknown config key '{where}{key}' (known: {known})")
        if isinstance(base[key], dict) and base[key] and key != "kwargs":
            if not isinstance(value, dict):
                raise ConfigError(f"'{where}{key}' must be a mapping, got {value!r}")
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _source(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"'{where}' must be a mapping with a 'format', got {value!r}")
    return _merge(SOURCE_DEFAULTS, value, where + ".")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=3e-4"`` → (["train", "lr"], 0.0003); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({err.__class__.__name__})") from err
    return key.split("."), value


def _set_path(tree: dict, path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        if isinstance(node, list):
            node = node[_list_index(node, part, path)]
            continue
        if part not in node or not isinstance(node[part], (dict, list)):
            raise ConfigError(f"unknown config key '{'.'.join(path)}'")
        node = node[part]
    last = path[-1]
    if isinstance(node, list):
        node[_list_index(node, last, path)] = value
    else:
        node[last] = value


def _list_index(node: list, part: str, path: list[str]) -> int:
    try:
        i = int(part)
        node[i]
    except (ValueError, IndexError):
        raise ConfigError(f"override '{'.'.join(path)}': '{part}' is not an index of a {len(node)}-item list") from None
    return i


def read_yaml_mapping(path: str | os.PathLike) -> dict:
    """The mapping a YAML config file holds (safe_load); ConfigError when the file is missing, is
    not YAML (with the line) or holds something else than a mapping."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{p}: not valid YAML{at}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p}: not a YAML text file (byte {err.start} is not UTF-8)") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: the top level must be a mapping")
    return raw


def load_config(path: str | os.PathLike | None, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Defaults ← YAML file ← overrides, validated. ``path=None`` starts from the defaults."""
    raw = read_yaml_mapping(path) if path is not None else {}
    cfg = _merge(DEFAULTS, raw, "")
    for text in overrides:
        keys, value = parse_override(text)
        _set_path(cfg, keys, value)
    return validate(cfg)


def _num(cfg: dict, section: str, key: str, lo: float, hi: float = float("inf"), *, integer: bool = False,
         lo_open: bool = False) -> None:
    value = cfg[section][key]
    if isinstance(value, str) and not integer:  # YAML 1.1 reads 1e-3 (no dot) as a string
        try:
            value = cfg[section][key] = float(value)
        except ValueError:
            pass
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"'{section}.{key}' must be {'an integer' if integer else 'a number'}, got {value!r}")
    if value < lo or value > hi or (lo_open and value == lo):
        rng = f"{'(' if lo_open else '['}{lo}, {hi}]"
        raise ConfigError(f"'{section}.{key}' = {value} is out of range {rng}")


def validate(cfg: dict) -> dict:
    """Check types and ranges; fill source defaults; returns the config (raises ConfigError)."""
    cfg = _merge(DEFAULTS, cfg, "")
    if not isinstance(cfg["name"], str) or not cfg["name"] or "/" in cfg["name"]:
        raise ConfigError(f"'name' must be a non-empty string without '/', got {cfg['name']!r}")
    model = cfg["model"]
    if not isinstance(model["name"], str):
        raise ConfigError(f"'model.name' must be a string, got {model['name']!r}")
    from pyhpe.models import list_models

    if model["name"] not in list_models():
        close = [m for m in list_models("sixdrepnet_*")][:6]
        raise ConfigError(f"unknown model '{model['name']}' (e.g. {', '.join(close)}; `pyhpe models --list`)")
    if not isinstance(model["kwargs"], dict):
        raise ConfigError("'model.kwargs' must be a mapping")
    if model["pretrained"] is not None and not Path(str(model["pretrained"])).is_file():
        raise ConfigError(f"model.pretrained: file not found: {model['pretrained']}")

    data = cfg["data"]
    data["train"] = _source(data["train"], "data.train")
    if not isinstance(data["val"], list):
        raise ConfigError("'data.val' must be a list of sources")
    data["val"] = [_source(v, f"data.val.{i}") for i, v in enumerate(data["val"])]
    for where, src in [("data.train", data["train"])] + [(f"data.val.{i}", v) for i, v in enumerate(data["val"])]:
        _check_source(src, where)
    _num(cfg, "data", "input_size", 16, 1024, integer=True)
    _num(cfg, "data", "test_resize", 16, 2048, integer=True)
    _num(cfg, "data", "test_margin", 0, 1)
    _num(cfg, "data", "workers", 0, 64, integer=True)
    if data["test_resize"] < data["input_size"]:
        raise ConfigError("'data.test_resize' must be >= 'data.input_size'")

    _num(cfg, "augment", "flip", 0, 1)
    _num(cfg, "augment", "blur", 0, 1)
    _num(cfg, "augment", "jitter", 0, 1)
    _num(cfg, "augment", "noise", 0, 100)
    _num(cfg, "augment", "rotate", 0, 1)
    _num(cfg, "augment", "rotate_deg", 0, 180)
    sc = cfg["augment"]["scale"]
    if not (isinstance(sc, (list, tuple)) and len(sc) == 2 and all(isinstance(v, (int, float)) for v in sc)
            and 0 < sc[0] <= sc[1] <= 1):
        raise ConfigError(f"'augment.scale' must be [lo, hi] with 0 < lo <= hi <= 1, got {sc!r}")

    _num(cfg, "train", "epochs", 1, 100000, integer=True)
    _num(cfg, "train", "batch_size", 1, 1 << 20, integer=True)
    _num(cfg, "train", "lr", 0, 10, lo_open=True)
    _num(cfg, "train", "min_lr", 0, 10)
    _num(cfg, "train", "weight_decay", 0, 10)
    _num(cfg, "train", "warmup_epochs", 0, 100000)
    _num(cfg, "train", "grad_clip", 0)
    _num(cfg, "train", "ema", 0, 1)
    if cfg["train"]["ema"] >= 1:
        raise ConfigError("'train.ema' must be < 1 (0 = off)")
    _num(cfg, "train", "seed", 0, 2**63 - 1, integer=True)
    _num(cfg, "train", "max_steps_per_epoch", 0, integer=True)
    _num(cfg, "train", "checkpoint_every", 0, integer=True)
    _num(cfg, "train", "time_limit_s", 0)
    _num(cfg, "train", "eval_every", 0, integer=True)
    _num(cfg, "train", "threads", 0, 1024, integer=True)
    if cfg["train"]["min_lr"] > cfg["train"]["lr"]:
        raise ConfigError("'train.min_lr' must be <= 'train.lr'")
    for key in ("freeze_bn", "channels_last"):
        if not isinstance(cfg["train"][key], bool):
            raise ConfigError(f"'train.{key}' must be true or false, got {cfg['train'][key]!r}")
    if cfg["train"]["schedule"] not in ("cosine", "step"):
        raise ConfigError(f"'train.schedule' must be cosine or step, got {cfg['train']['schedule']!r}")
    steps = cfg["train"]["lr_steps"]
    if not (isinstance(steps, list) and all(isinstance(e, int) and not isinstance(e, bool) and e >= 1
                                            for e in steps) and steps == sorted(steps)):
        raise ConfigError(f"'train.lr_steps' must be an increasing list of epochs >= 1, got {steps!r}")
    _num(cfg, "train", "lr_gamma", 0, 1, lo_open=True)
    if cfg["train"]["amp"] not in ("none", "bf16", "fp16"):
        raise ConfigError(f"'train.amp' must be none, bf16 or fp16, got {cfg['train']['amp']!r}")
    if cfg["train"]["device"] not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"'train.device' must be auto, cpu or cuda, got {cfg['train']['device']!r}")
    if not isinstance(cfg["output"]["dir"], str):
        raise ConfigError("'output.dir' must be a path string")
    return cfg


def _check_source(src: dict, where: str) -> None:
    fmt = src["format"]
    if fmt not in _SOURCE_FORMATS:
        raise ConfigError(f"'{where}.format' must be one of {', '.join(_SOURCE_FORMATS)}, got {fmt!r}")
    if fmt == "synthetic":
        for key, lo in (("n", 1), ("render_size", 32)):
            v = src[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConfigError(f"'{where}.{key}' must be an integer >= {lo}, got {v!r}")
    else:
        if not src["path"]:
            raise ConfigError(f"'{where}.path' is required for format {fmt}")
        if not Path(str(src["path"])).exists():
            raise ConfigError(f"{where}.path: no such file or folder: {src['path']}")
    depth = src.get("depth")
    if depth is not None and not (isinstance(depth, (list, tuple)) and len(depth) == 2
                                  and all(isinstance(v, (int, float)) for v in depth)
                                  and 0.15 < depth[0] <= depth[1]):
        raise ConfigError(f"'{where}.depth' must be [near, far] metres with 0.15 < near <= far, got {depth!r}")
    if src.get("synth") is not None and not isinstance(src["synth"], dict):
        raise ConfigError(f"'{where}.synth' must be a mapping of renderer settings, got {src['synth']!r}")
    _check_split(src, where)
    frac = src["split_fraction"]
    if frac is not None and not (isinstance(frac, (list, tuple)) and len(frac) == 2
                                 and 0 <= frac[0] < frac[1] <= 1):
        raise ConfigError(f"'{where}.split_fraction' must be [lo, hi] with 0 <= lo < hi <= 1, got {frac!r}")


def _check_split(src: dict, where: str) -> None:
    """``split`` is None or one of the format's split names (pyhpe.data.sources.SPLITS)."""
    split = src.get("split")
    if split is None:
        return
    from pyhpe.data.sources import SPLITS

    valid = SPLITS.get(src["format"])
    if valid is None:
        raise ConfigError(f"'{where}.split': format {src['format']} has no splits (only "
                          + ", ".join(f"{f}: {'|'.join(v)}" for f, v in SPLITS.items()) + ")")
    if split not in valid:
        raise ConfigError(f"'{where}.split' must be one of {', '.join(valid)} for format "
                          f"{src['format']}, got {split!r}")


def dump_config(cfg: dict, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML (what the run actually used)."""
    Path(path).write_text(yaml.safe_dump(cfg, sort_keys=False))
