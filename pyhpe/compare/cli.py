"""`pyhpe compare --config CONFIG`: every listed backbone under one training pipeline, one report.

The proposal's experiment (RepNeXt-M4 vs RepVGG-B1g2, MobileNetV3, MobileViG, EfficientFormerV2,
RepViT...): for each model and seed, train with the same data, augmentations, schedule and budget
(configs/compare_synthetic.yaml: synthetic heads on 2 CPU cores, equal time per model;
configs/compare_protocol1.yaml: 300W-LP → AFLW2000 / BIWI, equal epochs), evaluate on the test
sets (MAE per angle with both formulas, geodesic error, robustness slices, error vs yaw), measure
each model's deploy form (params, MACs, batch-1 latency in PyTorch, onnxruntime and ncnn at 1 and
2 threads), then write one report directory: ``report.md`` (tables, the proposal's hypothesis
marked supported / not supported / inconclusive), ``results.json`` and PNG plots.

Resumable: re-running the same command into the same ``--out`` reuses every finished stage
(a trained and evaluated model is not retrained) and redoes the rest. A model that fails (an
unknown name, a failed export...) is reported with its stage and error; the others complete and
the exit status is 1. Ctrl-C stops with one line and exit status 130; the re-run trains the
(model, seed) it interrupted again from its start. ``--phone-results FILE`` merges ``pyhpe-bench`` timings taken on a phone
(docs/android.md) into the report. ``--report-only`` rewrites the report from stored results.

Time: the synthetic default took 27 min on 2 CPU cores (7 models × 2 seeds × 1.5 min of training,
plus rendering, evaluation, exports and latency; docs/results.md). On 2 cores an equal-time budget
gives the large models few steps: read its accuracy columns with that in mind.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from pathlib import Path

DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True,
                        help="compare YAML (configs/compare_synthetic.yaml, configs/compare_protocol1.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides, e.g. budget.minutes=0.5 seeds=[0] models=[repnext_m0,repvgg_a0]")
    parser.add_argument("--out", help="report directory (default: output.dir/<name> of the config); "
                                      "re-running into it resumes")
    parser.add_argument("--phone-results", metavar="FILE",
                        help="pyhpe-bench output captured on a phone (docs/android.md), merged into the report")
    parser.add_argument("--skip-latency", action="store_true", help="no export or latency measurement")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite report.md, results.json and the plots from the stored results")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")


def run(args: argparse.Namespace) -> int:
    import sys

    where: dict = {}
    try:
        import pyhpe.engine.config  # noqa: F401 — guarded's except clause imports it: not half-imported by a Ctrl-C
        from pyhpe.engine.errors import guarded

        return guarded("compare", lambda: _run(args, where))
    except KeyboardInterrupt:  # Ctrl-C (in training: pyhpe.engine.trainer.TrainingInterrupted)
        stored = f"the finished stages are stored in {where['out']}; " if "out" in where else ""
        print(f"pyhpe compare: interrupted; {stored}run the same command again to resume",
              file=sys.stderr, flush=True)
        return 130


def _say(text: str) -> None:
    print(text, flush=True)


def _run(args: argparse.Namespace, where: dict) -> int:
    from pyhpe.bench.report import machine
    from pyhpe.compare.config import load_compare_config
    from pyhpe.compare.report import aggregate, hypothesis, markdown, plots
    from pyhpe.compare.runner import (
        Failure,
        clear_failure,
        error_line,
        evaluate_one,
        fused_pair,
        load_test_sets,
        load_train_samples,
        measure_key,
        measure_one,
        read_result,
        record_failure,
        seconds_estimate,
        train_key,
        train_one,
        trivial_key,
        trivial_reports,
        write_json,
    )
    from pyhpe.models import list_models

    cfg = load_compare_config(args.config, args.overrides)
    if args.no_progress:
        cfg["output"]["progress"] = False
    progress = bool(cfg["output"]["progress"])
    phone = None
    if args.phone_results:
        from pyhpe.bench.phone import read_phone_results

        phone = read_phone_results(args.phone_results)
    out = Path(args.out) if args.out else Path(cfg["output"]["dir"]) / cfg["name"]
    out.mkdir(parents=True, exist_ok=True)
    where["out"] = out
    t_start = time.perf_counter()
    env = machine()
    registered = set(list_models())
    models = cfg["models"]
    runs = [(m, s) for m in models for s in cfg["seeds"]]
    estimate = seconds_estimate(cfg)
    _say(f"pyhpe compare {cfg['name']}: {len(models)} models × {len(cfg['seeds'])} seeds → {out}"
         + (f"; training about {estimate / 60:.0f} min" if estimate and not args.report_only else "")
         + f" ({env['cpu']}, {env['cpu_count']} cores)")

    results: dict = {"models": {m: {"runs": {}, "measure": None} for m in models}}
    failures: list[Failure] = []
    train_samples = test_sets = None
    for i, (model, seed) in enumerate(runs, 1):
        folder = out / "models" / model
        key = train_key(cfg, model, seed)
        stored = read_result(folder / f"seed{seed}.json", key)
        if stored is not None:
            results["models"][model]["runs"][str(seed)] = stored
            continue
        if args.report_only:
            continue
        if model not in registered:
            failure = Failure(model, "build", seed, f"unknown model {model!r} (`pyhpe models --list`)")
            failures.append(failure)
            record_failure(folder, failure, KeyError(model))
            _say(f"[{i}/{len(runs)}] {failure.line()}")
            continue
        if train_samples is None:
            train_samples = load_train_samples(cfg, progress)
            test_sets = load_test_sets(cfg, progress)
        stage, t_run = "train", time.perf_counter()
        try:
            _say(f"[{i}/{len(runs)}] {model} seed {seed}: training"
                 + (f" {cfg['budget']['minutes']:g} min" if cfg["budget"]["kind"] == "time" else ""))
            trained = train_one(cfg, model, seed, folder, train_samples)
            stage = "evaluate"
            evaluated = evaluate_one(Path(trained["run_dir"]), test_sets)
        except Exception as err:  # noqa: BLE001 — one model's failure is reported; the others go on
            failure = Failure(model, stage, seed, error_line(err))
            failures.append(failure)
            record_failure(folder, failure, err)
            _say(f"[{i}/{len(runs)}] {failure.line()}")
            continue
        entry = {"fingerprint": key, "train": trained, "eval": evaluated, "seconds": time.perf_counter() - t_run}
        write_json(folder / f"seed{seed}.json", entry)
        clear_failure(folder, "train", seed)
        clear_failure(folder, "evaluate", seed)
        results["models"][model]["runs"][str(seed)] = entry
        first = next(iter(evaluated.values()))["report"]
        _say(f"[{i}/{len(runs)}] {model} seed {seed}: {trained['steps']} steps, MAE mean "
             f"{first['mae_6drepnet']['mean']:.2f}°, geodesic {first['geodesic_deg']:.2f}°")

    if not args.skip_latency:
        for model in models:
            folder = out / "models" / model
            key = measure_key(cfg, model)
            stored = read_result(folder / "measure.json", key)
            if stored is not None or args.report_only or model not in registered:
                results["models"][model]["measure"] = stored
                continue
            _say(f"{model}: export and latency")
            t_run = time.perf_counter()
            try:
                row = measure_one(cfg, model, folder)
            except Exception as err:  # noqa: BLE001 — reported as this model's failure
                failure = Failure(model, "measure", None, error_line(err))
                failures.append(failure)
                record_failure(folder, failure, err)
                _say(failure.line())
                continue
            row["fingerprint"], row["seconds"] = key, time.perf_counter() - t_run
            write_json(folder / "measure.json", row)
            clear_failure(folder, "measure", None)
            results["models"][model]["measure"] = row
        key = measure_key(cfg, "fused-pair")
        results["fused"] = read_result(out / "fused.json", key)
        if results["fused"] is None and not args.report_only:
            try:
                fused = fused_pair(cfg, out)
            except Exception as err:  # noqa: BLE001 — reported as this model's failure
                failures.append(Failure("fused pair", "measure", None, error_line(err)))
                fused = None
            if fused is not None:
                fused["fingerprint"] = key
                write_json(out / "fused.json", fused)
            results["fused"] = fused

    # failures stored by earlier runs of stages that did not run again now
    seen = {(f.model, f.stage, f.seed) for f in failures}
    for model in models:
        for path in sorted((out / "models" / model).glob("failed-*.json")):
            data = json.loads(path.read_text())
            if (data["model"], data["stage"], data["seed"]) not in seen:
                failures.append(Failure(data["model"], data["stage"], data["seed"], data["error"]))

    trivial = read_result(out / "trivial.json", trivial_key(cfg))
    if trivial is None and not args.report_only and cfg["pipeline"]["data"]["train"]["format"] == "synthetic":
        if train_samples is None:
            train_samples, test_sets = load_train_samples(cfg, progress), load_test_sets(cfg, progress)
        reports = trivial_reports(train_samples, test_sets)
        trivial = {"fingerprint": trivial_key(cfg), "reports": reports}
        write_json(out / "trivial.json", trivial)
    results["trivial"] = trivial["reports"] if trivial else None
    env["load_after"] = os.getloadavg()[0]
    command = " ".join(shlex.quote(a) for a in ["pyhpe", "compare", "--config", str(args.config), *args.overrides]
                       + (["--out", str(args.out)] if args.out else [])
                       + (["--phone-results", str(args.phone_results)] if args.phone_results else []))
    results.update(config=cfg, machine=env, phone=phone, failures=[f.line() for f in failures],
                   command=command, elapsed_s=time.perf_counter() - t_start)
    agg = aggregate(results)
    claims = hypothesis(results, agg)
    summary = {k: v for k, v in results.items() if k != "models"}
    summary["models"] = {m: {"measure": e.get("measure"),
                             "runs": {s: {"train": r.get("train")} for s, r in e["runs"].items()}}
                         for m, e in results["models"].items()}
    summary.update(aggregate=agg, hypothesis=claims)
    write_json(out / "results.json", summary)
    (out / "report.md").write_text(markdown(results, agg, claims))
    plots(results, agg, out)
    for c in claims:
        _say(f"{c['claim']}: {c['verdict']} — {c['why']}")
    for f in failures:
        _say(f"failed: {f.line()}")
    _say(f"report: {out / 'report.md'} ({results['elapsed_s'] / 60:.1f} min)")
    return 1 if failures else 0
