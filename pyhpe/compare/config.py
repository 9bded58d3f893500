"""The configuration of ``pyhpe compare``: which pose models, under which one training pipeline,
with which budget, seeds, test sets, latency settings and hypothesis pair.

A compare config is a ``pyhpe train`` config (``data``, ``augment``, ``train``: one pipeline for
every model) plus the keys below; ``data.val`` lists the test sets. Everything is checked before
any model trains, except whether each model exists: an unknown model fails its own stage in the
report while the others run (the report says which and why).
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
from pathlib import Path
from typing import Any

from pyhpe.engine.config import ConfigError

POSE_PREFIX = "sixdrepnet_"
DEFAULT_MODELS = [
    "sixdrepnet_repnext_m4", "sixdrepnet_repvgg_b1g2", "sixdrepnet_mobilenetv3_large",
    "sixdrepnet_mobilevig_ti", "sixdrepnet_efficientformerv2_s0", "sixdrepnet_repvit_m0_9",
    "sixdrepnet_repnext_m0",
]
COMPARE_DEFAULTS: dict[str, Any] = {
    "name": "compare",
    "models": DEFAULT_MODELS,
    "seeds": [0, 1],
    # time: every model trains for `minutes` of wall clock (learning rate follows the clock);
    # epochs: every model trains train.epochs epochs (its own step count)
    "budget": {"kind": "time", "minutes": 1.5, "warmup_fraction": 0.05},
    "latency": {"threads": [1, 2], "runs": 10, "warmup": 2,
                "pyhpe_bench": "build/runtime-host/pyhpe-bench", "fused_passes": 3},
    "hypothesis": {"model": "sixdrepnet_repnext_m4", "baseline": "sixdrepnet_repvgg_b1g2"},
    "pretrained": {},  # model name -> ImageNet (or any pyhpe.models.load-able) weights file
    "output": {"dir": "runs/compare", "progress": True},
}
COMPARE_KEYS = set(COMPARE_DEFAULTS)
PIPELINE_KEYS = {"data", "augment", "train"}


def pose_model_name(name: str) -> str:
    """A registered pose model for ``name``: a bare backbone name (``repnext_m4``) gets the
    6DRepNet head (``sixdrepnet_repnext_m4``); anything else is returned as it is."""
    from pyhpe.models import list_models

    if not name.startswith(POSE_PREFIX) and POSE_PREFIX + name in set(list_models()):
        return POSE_PREFIX + name
    return name


def resolution_kwargs(name: str, input_size: int) -> dict:
    """Model kwargs that size a model for ``input_size`` (EfficientFormerV2's attention biases are
    built for one resolution, ``img_size``); {} for models that take any size."""
    from pyhpe.models.registry import get_factory

    bare = name.removeprefix(POSE_PREFIX)
    try:
        params = inspect.signature(get_factory(bare)).parameters
    except (KeyError, ValueError):
        return {}
    if "img_size" not in params or params["img_size"].default == input_size:
        return {}
    return {"img_size": input_size}


def load_compare_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Defaults ← YAML ← ``key.path=value`` overrides, validated (ConfigError on anything wrong)."""
    from pyhpe.engine.config import _set_path, parse_override, read_yaml_mapping

    raw = read_yaml_mapping(path)
    for text in overrides:
        keys, value = parse_override(text)
        _set_path(raw, keys, value)
    return validate(raw, where=str(path))


def validate(raw: dict, where: str = "config") -> dict:
    """The full compare config: compare keys filled from the defaults, the shared pipeline checked
    by the training config's own validation (with a placeholder model)."""
    unknown = set(raw) - COMPARE_KEYS - PIPELINE_KEYS - {"model"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (a compare config has "
                          f"{', '.join(sorted(COMPARE_KEYS | PIPELINE_KEYS))})")
    if "model" in raw:
        raise ConfigError(f"{where}: a compare config lists 'models' (one pipeline for all), not 'model'")
    from pyhpe.engine.config import _merge

    cfg = _merge(COMPARE_DEFAULTS, {k: v for k, v in raw.items() if k in COMPARE_KEYS}, "")
    if not isinstance(cfg["name"], str) or not cfg["name"] or "/" in cfg["name"]:
        raise ConfigError(f"'name' must be a non-empty string without '/', got {cfg['name']!r}")
    models = cfg["models"]
    if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
        raise ConfigError(f"'models' must be a non-empty list of model names, got {models!r}")
    cfg["models"] = list(dict.fromkeys(pose_model_name(m) for m in models))
    seeds = cfg["seeds"]
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise ConfigError(f"'seeds' must be a non-empty list of integers >= 0, got {seeds!r}")
    cfg["seeds"] = list(dict.fromkeys(seeds))
    budget = cfg["budget"]
    if budget.get("kind") not in ("time", "epochs"):
        raise ConfigError(f"'budget.kind' must be time or epochs, got {budget.get('kind')!r}")
    if budget["kind"] == "time":
        minutes = budget.get("minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
            raise ConfigError(f"'budget.minutes' must be a positive number, got {minutes!r}")
        frac = budget.get("warmup_fraction", 0.05)
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 <= frac < 0.5:
            raise ConfigError(f"'budget.warmup_fraction' must be in [0, 0.5), got {frac!r}")
    lat = cfg["latency"]
    threads = lat.get("threads")
    if not isinstance(threads, list) or not threads or not all(isinstance(t, int) and t >= 1 for t in threads):
        raise ConfigError(f"'latency.threads' must be a list of thread counts >= 1, got {threads!r}")
    for key in ("runs", "warmup", "fused_passes"):
        value = lat.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "warmup" else 1):
            raise ConfigError(f"'latency.{key}' must be a positive integer, got {value!r}")
    hyp = cfg["hypothesis"]
    if not isinstance(hyp, dict) or not all(isinstance(hyp.get(k), str) for k in ("model", "baseline")):
        raise ConfigError("'hypothesis' needs 'model' and 'baseline' names")
    hyp["model"], hyp["baseline"] = pose_model_name(hyp["model"]), pose_model_name(hyp["baseline"])
    if not isinstance(cfg["pretrained"], dict):
        raise ConfigError("'pretrained' must map model names to weight files")
    cfg["pretrained"] = {pose_model_name(k): str(v) for k, v in cfg["pretrained"].items() if v}

    # the shared pipeline: validated as a training config of the first model that exists
    pipeline = {k: copy.deepcopy(raw[k]) for k in PIPELINE_KEYS if k in raw}
    if "data" not in pipeline or "train" not in pipeline["data"]:
        raise ConfigError(f"{where}: 'data.train' (the training source) is missing")
    if not pipeline["data"].get("val"):
        raise ConfigError(f"{where}: 'data.val' must list at least one test set")
    cfg["pipeline"] = training_config(cfg, pipeline, _placeholder_model(cfg["models"]), 0, Path("."),
                                      check_only=True)
    return cfg


def _placeholder_model(models: list[str]) -> str:
    from pyhpe.models import list_models

    registered = set(list_models())
    return next((m for m in models if m in registered), "sixdrepnet_repnext_m0")


def training_config(cfg: dict, pipeline: dict, model: str, seed: int, out_dir: Path,
                    check_only: bool = False) -> dict:
    """The ``pyhpe train`` config of one (model, seed) run: the shared pipeline, this model (sized
    for the pipeline's input), this seed, the budget; validation is left to the comparison (no
    per-epoch evaluation)."""
    from pyhpe.engine.config import validate as validate_training

    run = copy.deepcopy(pipeline)
    run["name"] = f"{cfg['name']}-{model}-seed{seed}"
    input_size = int(run.get("data", {}).get("input_size", 224))
    run["model"] = {"name": model, "kwargs": {} if check_only else resolution_kwargs(model, input_size),
                    "pretrained": None if check_only else cfg["pretrained"].get(model)}
    train = run.setdefault("train", {})
    train["seed"] = seed
    train["eval_every"] = 0
    if cfg["budget"]["kind"] == "time":
        seconds = float(cfg["budget"]["minutes"]) * 60
        train["epochs"] = 100000  # an upper bound: the clock ends the run
        train["time_limit_s"] = seconds + 20.0  # the trainer's guard behind the clock's own stop
    run["output"] = {"dir": str(out_dir), "progress": bool(cfg["output"]["progress"])}
    test_sets = run["data"]["val"]
    run["data"]["val"] = []
    checked = validate_training(run)
    if check_only:
        run["data"]["val"] = test_sets
        checked["data"]["val"] = validate_training(run)["data"]["val"]
    return checked


def fingerprint(*parts: Any) -> str:
    """A short stable hash of what a stored result depends on (a re-run reuses a result only when
    its fingerprint matches)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
