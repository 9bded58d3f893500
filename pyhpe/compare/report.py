"""The comparison's report: seeds aggregated (mean and spread), the proposal's hypothesis judged
by the numbers, ``report.md``, ``results.json`` and the plots.

Spread = max − min over seeds. A difference between two models counts only when it is larger
than the larger of their spreads; otherwise the report calls it inconclusive (with one seed
there is no spread and every difference counts: the report says so).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pyhpe.compare.config import POSE_PREFIX

LATENCY_RUNTIMES = (("torch_deploy", "PyTorch deploy"), ("onnxruntime", "onnxruntime"), ("ncnn", "ncnn"))
LATENCY_TOLERANCE = 1.05  # "maintain": within 5 % of the baseline counts as the same latency


def short(model: str) -> str:
    return model.removeprefix(POSE_PREFIX)


def stat(values: list[float]) -> dict:
    """Mean, spread (max − min) and count of finite values."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return {"mean": float("nan"), "spread": float("nan"), "n": 0}
    return {"mean": float(np.mean(v)), "spread": float(max(v) - min(v)), "n": len(v)}


def fmt(s: dict, digits: int = 2) -> str:
    if not s["n"]:
        return "—"
    return f"{s['mean']:.{digits}f}" + (f" ± {s['spread']:.{digits}f}" if s["n"] > 1 else "")


def stage_seconds(results: dict) -> float:
    """Wall time of every stored stage (training + evaluation per run, measurement per model): what
    the whole comparison cost, however many invocations it took."""
    total = 0.0
    for entry in results["models"].values():
        for run in entry["runs"].values():
            total += run.get("seconds", run.get("train", {}).get("train_time_s", 0.0))
        total += (entry.get("measure") or {}).get("seconds", 0.0)
    return total


def aggregate(results: dict) -> dict:
    """Per model and test set: accuracy statistics over seeds, slice ratios, the mean yaw curve."""
    out = {}
    for model, entry in results["models"].items():
        evals = [r["eval"] for r in entry["runs"].values() if r.get("eval")]
        steps = [r["train"]["steps"] for r in entry["runs"].values() if r.get("train")]
        per_set = {}
        for name in (evals[0] if evals else {}):
            reps = [e[name]["report"] for e in evals if name in e]
            acc = {f"mae_{k}": stat([r["mae_6drepnet"][k] for r in reps]) for k in ("yaw", "pitch", "roll", "mean")}
            acc["mae360_mean"] = stat([r["mae_wrap360"]["mean"] for r in reps])
            acc["geodesic"] = stat([r["geodesic_deg"] for r in reps])
            slices = []
            for i, sl in enumerate(evals[0][name]["slices"]):
                runs = [e[name]["slices"][i] for e in evals if name in e]
                slices.append({"slice": sl["slice"], "hard_label": sl["hard_label"], "rest_label": sl["rest_label"],
                               "n_hard": sl["hard"]["n"], "n_rest": sl["rest"]["n"],
                               "hard_mae": stat([r["hard"]["mae"] for r in runs]),
                               "rest_mae": stat([r["rest"]["mae"] for r in runs]),
                               "ratio": stat([r["mae_ratio"] for r in runs])})
            curves = [e[name]["yaw_curve"] for e in evals if name in e]
            by_bin: dict[float, list[float]] = {}
            for c in curves:
                for y, g in zip(c["yaw"], c["geodesic"]):
                    by_bin.setdefault(y, []).append(g)
            curve = {"yaw": sorted(by_bin), "geodesic": [float(np.mean(by_bin[y])) for y in sorted(by_bin)]}
            per_set[name] = {"accuracy": acc, "slices": slices, "yaw_curve": curve}
        out[model] = {"seeds": len(evals), "steps": stat([float(s) for s in steps]), "test_sets": per_set}
    return out


def judge(a: dict, b: dict, what: str, lower_is_better: bool = True) -> dict:
    """Is ``a`` better than ``b`` beyond the seed spread? → supported / not supported /
    inconclusive, with the sentence that says why."""
    if not a["n"] or not b["n"]:
        return {"verdict": "inconclusive", "why": f"{what}: a model has no result"}
    diff = a["mean"] - b["mean"]
    spread = max(a["spread"], b["spread"]) if a["n"] > 1 and b["n"] > 1 else 0.0
    better = diff < 0 if lower_is_better else diff > 0
    text = f"{what}: {a['mean']:.3f} vs {b['mean']:.3f} (difference {diff:+.3f}"
    text += f", seed spread {spread:.3f})" if spread else ", one seed: no spread)"
    if abs(diff) <= spread:
        return {"verdict": "inconclusive", "why": text + " — within the spread"}
    return {"verdict": "supported" if better else "not supported", "why": text}


def _latency_pairs(results: dict, model: str, baseline: str) -> tuple[str, dict[str, tuple[float, float]]]:
    """(source, {threads: (model ms, baseline ms)}): the fused C++ runtime pair when measured,
    else the Python ncnn plain pairs."""
    fused = results.get("fused")
    if fused:
        lat = fused["latency"]
        return ("ncnn, C++ runtime, RepNeXt mixers fused (min ms)",
                {t: (v["ncnn_m4_fused"]["min_ms"], v["ncnn_b1g2"]["min_ms"]) for t, v in lat.items()})
    ma, mb = results["models"][model].get("measure"), results["models"][baseline].get("measure")
    if not ma or not mb:
        return ("ncnn", {})
    return ("ncnn, Python binding, plain layers (min ms)",
            {t: (ma["latency"][t]["ncnn"]["min_ms"], mb["latency"][t]["ncnn"]["min_ms"])
             for t in ma["latency"] if t in mb["latency"]})


def phone_pairs(phone: list[dict], model: str, baseline: str) -> dict[tuple, tuple[float, float]]:
    """{(device, precision, threads): (model ms, baseline ms)} from phone timings whose file stems
    name the two models (``<model>`` or a variant ``<model>.fused``: the fastest variant counts)."""
    best: dict[tuple, dict[str, float]] = {}
    for row in phone:
        for who, name in (("model", model), ("baseline", baseline)):
            if row["model"] == name or row["model"].startswith(name + "."):
                key = (row.get("device") or "phone", row["precision"], row["threads"])
                slot = best.setdefault(key, {})
                slot[who] = min(slot.get(who, math.inf), row["min_ms"])
    return {k: (v["model"], v["baseline"]) for k, v in best.items() if len(v) == 2}


def _not_learned(results: dict, agg: dict, name: str, models: tuple[str, ...]) -> str:
    """'' when every model beats the trivial predictor on ``name`` by more than its seed spread;
    else the sentence naming those that do not (no trivial report, e.g. real data: '')."""
    trivial = (results.get("trivial") or {}).get(name)
    if not trivial:
        return ""
    level = trivial["mae_6drepnet"]["mean"]
    bad = []
    for model in models:
        acc = agg[model]["test_sets"][name]["accuracy"]["mae_mean"]
        if acc["mean"] + (acc["spread"] if acc["n"] > 1 else 0.0) >= level:
            bad.append(f"{short(model)} (MAE {fmt(acc)}°)")
    return f"{' and '.join(bad)} not clearly below the trivial predictor's {level:.2f}°" if bad else ""


def majority(verdicts: list[str]) -> str:
    """One verdict over several slices: supported (or not supported) when more than half of the
    slices say so and none says the opposite; otherwise inconclusive (one slice in four beyond a
    two-seed spread is what chance alone often gives)."""
    yes, no = verdicts.count("supported"), verdicts.count("not supported")
    if yes > len(verdicts) / 2 and not no:
        return "supported"
    if no > len(verdicts) / 2 and not yes:
        return "not supported"
    return "inconclusive"


def hypothesis(results: dict, agg: dict) -> list[dict]:
    """The proposal's three claims (accuracy, latency, robustness) and its size claim, judged."""
    hyp = results["config"]["hypothesis"]
    m, b = hyp["model"], hyp["baseline"]
    claims = []
    if m not in agg or b not in agg or not agg[m]["test_sets"] or not agg[b]["test_sets"]:
        why = f"{short(m)} or {short(b)} has no evaluated run (see Failures)"
        return [{"claim": c, "verdict": "inconclusive", "why": why}
                for c in ("more accurate", "as fast or faster", "more robust")]
    for name in agg[m]["test_sets"]:
        if name not in agg[b]["test_sets"]:
            continue
        a_acc, b_acc = agg[m]["test_sets"][name]["accuracy"], agg[b]["test_sets"][name]["accuracy"]
        j = judge(a_acc["mae_mean"], b_acc["mae_mean"], f"{name} MAE mean (°)")
        claims.append({"claim": f"more accurate ({name})", **j})
    source, pairs = _latency_pairs(results, m, b)
    if pairs:
        ratios = {t: pa / pb for t, (pa, pb) in pairs.items()}
        ok = all(r <= LATENCY_TOLERANCE for r in ratios.values())
        why = ", ".join(f"{t} thread{'s' if t != '1' else ''}: {pa:.1f} vs {pb:.1f} ms ({pb / pa:.2f}× faster)"
                        if pa <= pb else f"{t} thread{'s' if t != '1' else ''}: {pa:.1f} vs {pb:.1f} ms "
                        f"({pa / pb:.2f}× slower)" for t, (pa, pb) in pairs.items())
        claims.append({"claim": "as fast or faster", "verdict": "supported" if ok else "not supported",
                       "why": f"{source}, {results['machine']['cpu']}: {why}"})
    else:
        claims.append({"claim": "as fast or faster", "verdict": "inconclusive", "why": "latency not measured"})
    for name in agg[m]["test_sets"]:
        if name not in agg[b]["test_sets"]:
            continue
        untrained = _not_learned(results, agg, name, (m, b))
        if untrained:
            claims.append({"claim": f"more robust ({name})", "verdict": "inconclusive",
                           "why": f"{untrained}: a slice ratio of a model that predicts about the mean pose "
                                  "says nothing about robustness"})
            continue
        verdicts = []
        for sa, sb in zip(agg[m]["test_sets"][name]["slices"], agg[b]["test_sets"][name]["slices"]):
            j = judge(sa["ratio"], sb["ratio"], f"{sa['slice']}: MAE {sa['hard_label']} / {sa['rest_label']}")
            verdicts.append(j)
        overall = majority([v["verdict"] for v in verdicts])
        claims.append({"claim": f"more robust ({name})", "verdict": overall,
                       "why": "; ".join(f"{v['why']} → {v['verdict']}" for v in verdicts)})
    for (device, precision, threads), (pa, pb) in phone_pairs(results.get("phone") or [], m, b).items():
        claims.append({"claim": f"as fast or faster (phone: {device}, {precision}, {threads} thread(s))",
                       "verdict": "supported" if pa <= pb * LATENCY_TOLERANCE else "not supported",
                       "why": f"pyhpe-bench on the phone: {pa:.1f} vs {pb:.1f} ms ({pb / pa:.2f}× the speed)"})
    ma, mb = results["models"][m].get("measure"), results["models"][b].get("measure")
    if ma and mb:
        claims.append({"claim": "smaller (params, MACs)",
                       "verdict": "supported" if ma["params_deploy"] < mb["params_deploy"]
                       and ma["macs_deploy"] < mb["macs_deploy"] else "not supported",
                       "why": f"params {ma['params_deploy'] / 1e6:.2f} M vs {mb['params_deploy'] / 1e6:.2f} M "
                              f"({mb['params_deploy'] / ma['params_deploy']:.2f}×), MACs "
                              f"{ma['macs_deploy'] / 1e9:.2f} G vs {mb['macs_deploy'] / 1e9:.2f} G "
                              f"({mb['macs_deploy'] / ma['macs_deploy']:.2f}×) at {ma['input_size']}²"})
    return claims


# --- markdown ---------------------------------------------------------------------------------


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(head), "|" + "---|" * len(head)] + [line(r) for r in rows]


def markdown(results: dict, agg: dict, claims: list[dict]) -> str:
    cfg = results["config"]
    mach = results["machine"]
    budget = cfg["budget"]
    t = cfg["pipeline"]["train"]
    if budget["kind"] == "time":
        budget_text = (f"equal time: every model trained {budget['minutes']:g} min of wall clock per seed "
                       f"(learning rate follows the clock: {budget.get('warmup_fraction', 0.05):.0%} warm-up, "
                       f"cosine to {t['min_lr']:g}), so a slower model takes fewer steps")
    else:
        budget_text = f"equal epochs: every model trained {t['epochs']} epochs"
    data = cfg["pipeline"]["data"]
    lines = [
        f"# pyhpe compare: {cfg['name']}",
        "",
        f"Command: `{results['command']}`  ",
        (f"Machine: {mach['cpu']} ({mach['cpu_count']} cores), torch threads {t['threads'] or 'default'}; "
        f"this invocation {results['elapsed_s'] / 60:.1f} min with load average {mach['load_before']:.2f} → "
        f"{mach.get('load_after', float('nan')):.2f} (each latency row stores its own), the stored stages "
        f"{stage_seconds(results) / 60:.1f} min (training, evaluation, exports and latency).  "),
        (f"Pipeline (the same for every model): training set {data['train'].get('name') or data['train']['format']}"
        f" ({data['train'].get('n') or 'all'} images), input {data['input_size']} px, batch {t['batch_size']}, "
        f"AdamW lr {t['lr']:g} (weight decay {t['weight_decay']:g}), augmentations {cfg['pipeline']['augment']}; "
        f"seeds {cfg['seeds']}; budget: {budget_text}.  "),
        ("Accuracy: mean over seeds ± spread (max − min); MAE in degrees with 6DRepNet's formula "
        "unless marked ±360. Latency and size: the deploy (reparameterized) form at the model's deploy "
        "input size, batch 1, min over runs, one run per model with its runtimes interleaved."),
        "",
        "## Hypothesis (the proposal, §4)",
        "",
        f"{short(cfg['hypothesis']['model'])} instead of {short(cfg['hypothesis']['baseline'])}:",
        "",
    ]
    lines += _table(["claim", "verdict", "evidence"],
                    [[c["claim"], f"**{c['verdict']}**", c["why"]] for c in claims])
    for name in {n for a in agg.values() for n in a["test_sets"]}:
        lines += ["", f"## Accuracy: {name}", ""]
        rows = []
        for model, a in agg.items():
            if name not in a["test_sets"]:
                continue
            acc = a["test_sets"][name]["accuracy"]
            rows.append([short(model), fmt(a["steps"], 0), fmt(acc["mae_yaw"]), fmt(acc["mae_pitch"]),
                         fmt(acc["mae_roll"]), fmt(acc["mae_mean"]), fmt(acc["mae360_mean"]), fmt(acc["geodesic"])])
        trivial = (results.get("trivial") or {}).get(name)
        if trivial:
            e, w = trivial["mae_6drepnet"], trivial["mae_wrap360"]
            rows.append(["*trivial: the training set's mean rotation*", "—", f"{e['yaw']:.2f}", f"{e['pitch']:.2f}",
                         f"{e['roll']:.2f}", f"{e['mean']:.2f}", f"{w['mean']:.2f}", f"{trivial['geodesic_deg']:.2f}"])
        lines += _table(["model", "steps", "yaw", "pitch", "roll", "mean", "mean ±360", "geodesic"], rows)
        lines += ["", f"### Robustness slices: {name}", "",
                  "MAE on the hard images, on the rest, and their ratio (lower ratio = more robust).", ""]
        rows = []
        for model, a in agg.items():
            for sl in a["test_sets"].get(name, {}).get("slices", []):
                rows.append([sl["slice"], short(model), f"{sl['hard_label']} ({sl['n_hard']})",
                             fmt(sl["hard_mae"]), f"{sl['rest_label']} ({sl['n_rest']})", fmt(sl["rest_mae"]),
                             fmt(sl["ratio"])])
        rows.sort(key=lambda r: r[0])
        lines += _table(["slice", "model", "hard (n)", "MAE", "rest (n)", "MAE", "ratio"], rows)
    lines += ["", "## Size and latency", ""]
    threads = [str(x) for x in cfg["latency"]["threads"]]
    head = ["model", "input", "params (M) train / deploy", "GMACs"]
    head += [f"{label} {th}T" for th in threads for _, label in LATENCY_RUNTIMES]
    rows = []
    for model, entry in results["models"].items():
        me = entry.get("measure")
        if not me:
            rows.append([short(model), "—", "—", "—"] + ["—"] * (len(head) - 4))
            continue
        cells = [short(model), str(me["input_size"]),
                 f"{me['params_train'] / 1e6:.2f} / {me['params_deploy'] / 1e6:.2f}", f"{me['macs_deploy'] / 1e9:.3f}"]
        for th in threads:
            lat = me["latency"].get(th, {})
            cells += [f"{lat[k]['min_ms']:.1f}" if k in lat else "—" for k, _ in LATENCY_RUNTIMES]
        rows.append(cells)
    lines += _table(head, rows)
    fused = results.get("fused")
    if fused:
        lines += ["", "### The hypothesis pair through the C++ runtime (fused RepNeXt layers)", "",
                  (f"`pyhpe bench fused`'s measurement ({fused['pyhpe_bench']}): one interleaved run per thread "
                  "count, 1-thread cells in CPU time of the calling thread, 2-thread cells wall time."), ""]
        rows = []
        for th, v in fused["latency"].items():
            m4, b = v["ncnn_m4_fused"], v["ncnn_b1g2"]
            rows.append([th, f"{m4['min_ms']:.1f} ({m4['median_ms']:.1f})", f"{v['ncnn_m4']['min_ms']:.1f}",
                         f"{b['min_ms']:.1f} ({b['median_ms']:.1f})", f"{b['min_ms'] / m4['min_ms']:.2f}×"])
        lines += _table(["threads", "RepNeXt-M4 fused min (median) ms", "RepNeXt-M4 plain ms",
                         "RepVGG-B1g2 min (median) ms", "B1g2 / M4"], rows)
    phone = results.get("phone")
    if phone:
        lines += ["", "## Phone timings (merged from --phone-results)", ""]
        lines += _table(["device", "model file", "precision", "threads", "min ms", "median ms"],
                        [[p.get("device") or "—", p["model"], p["precision"], str(p["threads"]),
                          f"{p['min_ms']:.2f}", f"{p['median_ms']:.2f}"] for p in phone])
    lines += ["", "## Plots", "", "![accuracy vs latency](accuracy_latency.png)", "",
              "![robustness slices](slices.png)", "", "![error vs yaw](error_vs_yaw.png)"]
    failures = results["failures"]
    lines += ["", "## Failures", ""]
    lines += [f"- {f}" for f in failures] if failures else ["none"]
    return "\n".join(lines) + "\n"


# --- plots ------------------------------------------------------------------------------------


def plots(results: dict, agg: dict, out: Path) -> list[Path]:
    """accuracy_latency.png (MAE vs ncnn latency, marker area ∝ params), slices.png (hard/rest
    ratio per slice and model), error_vs_yaw.png (geodesic error per yaw bin, per model)."""
    from pyhpe.engine.plots import _plt, _save

    plt = _plt()
    paths = []
    first = next((n for a in agg.values() for n in a["test_sets"]), None)
    thread = str(results["config"]["latency"]["threads"][0])

    fig, ax = plt.subplots(figsize=(7, 5))
    for model, a in agg.items():
        me = results["models"][model].get("measure")
        if first is None or first not in a["test_sets"] or not me or thread not in me["latency"]:
            continue
        acc = a["test_sets"][first]["accuracy"]["mae_mean"]
        x = me["latency"][thread]["ncnn"]["min_ms"]
        ax.errorbar(x, acc["mean"], yerr=acc["spread"] / 2 if acc["n"] > 1 else None, fmt="none", ecolor="grey")
        ax.scatter([x], [acc["mean"]], s=20 + 8 * me["params_deploy"] / 1e6, alpha=0.6)
        ax.annotate(short(model), (x, acc["mean"]), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(plt.matplotlib.ticker.NullFormatter())
    ax.set_xlabel(f"ncnn latency, batch 1, {thread} thread(s), ms (log)")
    ax.set_ylabel(f"MAE mean, {first} (°)")
    paths.append(_save(plt, fig, "accuracy vs latency (marker area ∝ parameters; bar = seed spread)",
                       out / "accuracy_latency.png"))

    fig, ax = plt.subplots(figsize=(9, 4.5))
    slice_names = []
    if first is not None:
        slice_names = [s["slice"] for a in agg.values() if first in a["test_sets"]
                       for s in a["test_sets"][first]["slices"]]
        slice_names = list(dict.fromkeys(slice_names))
    models = [m for m in agg if first in agg[m]["test_sets"]]
    width = 0.8 / max(1, len(models))
    for i, model in enumerate(models):
        sl = {s["slice"]: s["ratio"] for s in agg[model]["test_sets"][first]["slices"]}
        vals = [sl[n]["mean"] if n in sl else np.nan for n in slice_names]
        err = [sl[n]["spread"] / 2 if n in sl and sl[n]["n"] > 1 else 0 for n in slice_names]
        ax.bar(np.arange(len(slice_names)) + (i - (len(models) - 1) / 2) * width, vals, width, yerr=err,
               label=short(model))
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks(np.arange(len(slice_names)), slice_names, fontsize=8)
    ax.set_ylabel("MAE hard / MAE rest")
    if models:
        ax.legend(fontsize=7, ncol=2)
    paths.append(_save(plt, fig, f"robustness slices, {first} (lower = more robust)", out / "slices.png"))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for model in models:
        c = agg[model]["test_sets"][first]["yaw_curve"]
        ax.plot(c["yaw"], c["geodesic"], marker="o", ms=3, label=short(model))
    ax.set_xlabel("true yaw (°)")
    ax.set_ylabel("geodesic error (°), mean over seeds")
    if models:
        ax.legend(fontsize=7, ncol=2)
    paths.append(_save(plt, fig, f"error vs yaw, {first}", out / "error_vs_yaw.png"))
    return paths
