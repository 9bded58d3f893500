"""`pyhpe <command> --help` works for every command and subcommand; usage errors exit 2; failures
exit 1 with one clear line on stderr and no traceback; renamed flags keep their old spelling."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os

import pytest
from support import PYHPE, start_command

from pyhpe.cli import COMMANDS, main

OTHER_HELPERS = {"predict", "export"}  # built by the deployment work; skipped until they exist


def test_help_for_every_command(tmp_path):
    """`python -m pyhpe <command> --help` for every command (started together: each is a fresh
    interpreter importing torch, and run one after another they dominate the suite's time)."""
    procs = {}
    for command, (module, _) in sorted(COMMANDS.items()):
        if command in OTHER_HELPERS and importlib.util.find_spec(module) is None:
            continue  # not built yet
        # run outside the source tree, so the installed package (with its native build) is used
        procs[command] = start_command([*PYHPE, command, "--help"], cwd=tmp_path,
                                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert {"train", "eval", "demo"} <= set(procs)
    for command, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{command}: {err[-2000:]}"
        assert f"pyhpe {command}" in out and "usage:" in out, command


def _one_line_error(capsys, argv, expect):
    assert main(argv) == 1  # an expected failure exits 1 (it was 2 before the one-vocabulary change)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"pyhpe {argv[0]}: error:") and expect in err[0], err[0]


@pytest.mark.parametrize("overrides, expect", [
    (["train.lr=-1"], "'train.lr' = -1 is out of range"),
    (["train.lrr=1"], "unknown config key 'train.lrr'"),
    (["train.epochs=two"], "'train.epochs' must be an integer"),
    (["train.amp=fp8"], "'train.amp' must be none, bf16 or fp16"),
    (["augment.scale=[0.9, 0.1]"], "'augment.scale' must be [lo, hi]"),
    (["model.name=resnet9000"], "unknown model 'resnet9000'"),
    (["data.train.format=aflw2000", "data.train.path=/no/such/dir"], "no such file or folder: /no/such/dir"),
    (["data.train.format=300wlp"], "'data.train.path' is required"),
    (["data.val=[{format: biwi-npz, path: /no/biwi.npz}]"], "no such file or folder: /no/biwi.npz"),
    (["model.pretrained=/no/weights.pth"], "file not found: /no/weights.pth"),
    (["train.lr"], "must look like key.sub=value"),
])
def test_train_bad_config_one_line(capsys, overrides, expect):
    _one_line_error(capsys, ["train", "--config", "configs/synthetic.yaml", *overrides], expect)


def test_train_missing_or_broken_config_file(capsys, tmp_path):
    _one_line_error(capsys, ["train", "--config", str(tmp_path / "none.yaml")], "config file not found")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {lr: [1, 2\n")
    _one_line_error(capsys, ["train", "--config", str(bad)], "not valid YAML")
    _one_line_error(capsys, ["train", "--config", "configs/synthetic.yaml", "--resume", str(tmp_path)],
                    "no checkpoint at")


def test_demo_bad_arguments_one_line(capsys):
    _one_line_error(capsys, ["demo", "--n-train", "10"], "must be at least one batch")
    _one_line_error(capsys, ["demo", "--model", "repnext_m0"], "must be a pose model")


@pytest.mark.parametrize("path", sorted(p for p in os.listdir("configs") if p.endswith(".yaml")))
def test_shipped_configs_parse(path):
    """Every shipped config is valid apart from its dataset paths (which need real data); compare
    configs (a model list over one pipeline) through their own loader."""
    from pyhpe.compare.config import load_compare_config
    from pyhpe.engine.config import ConfigError, load_config

    try:
        (load_compare_config if path.startswith("compare_") else load_config)(f"configs/{path}")
    except ConfigError as err:
        assert "no such file or folder" in str(err) or "file not found" in str(err), err


# ---- every command and subcommand: --help, usage errors, one-line failures ---------------------

def _command_paths() -> list[tuple[str, ...]]:
    """("info",), ("data",), ("data", "show"), ...: every command, group and subcommand."""
    paths = []
    for name, (module, _) in COMMANDS.items():
        paths.append((name,))
        group = importlib.import_module(module)
        paths += [(name, sub) for sub in getattr(group, "COMMANDS", {})]
    return paths


ALL = _command_paths()
GROUPS = [p for p in ALL if hasattr(importlib.import_module(COMMANDS[p[0]][0]), "COMMANDS") and len(p) == 1]
LEAVES = [p for p in ALL if p not in GROUPS]


def _leaf_parser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    table = COMMANDS
    for name in path[:-1]:
        table = importlib.import_module(table[name][0]).COMMANDS
    parser = argparse.ArgumentParser(prog="pyhpe " + " ".join(path))
    importlib.import_module(table[path[-1]][0]).add_arguments(parser)
    return parser


@pytest.mark.parametrize("path", [(), *ALL], ids=lambda p: " ".join(p) or "pyhpe")
def test_help_exits_0(capsys, path):
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: " + " ".join(("pyhpe", *path))), out[:200]


@pytest.mark.parametrize("path", [(), *ALL], ids=lambda p: " ".join(p) or "pyhpe")
def test_usage_error_exits_2(capsys, path):
    assert main([*path, "--no-such-flag"]) == 2
    err = capsys.readouterr().err
    assert "usage: " + " ".join(("pyhpe", *path)) in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(" ".join(("pyhpe", *path)) + ": error:"), err


def test_bare_group_is_a_usage_error(capsys):
    for path in [(), *GROUPS]:
        assert main(list(path)) == 2
        err = capsys.readouterr().err
        assert err.startswith("usage: " + " ".join(("pyhpe", *path))) and "COMMAND" in err
    assert main(["nosuchcommand"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def _fail_info(monkeypatch, tmp_path):
    import pyhpe.info

    def broken():
        raise OSError("cannot read /proc/cpuinfo")

    monkeypatch.setattr(pyhpe.info, "collect", broken)
    return ["info"], "cannot read /proc/cpuinfo"


def _fail_callpath(monkeypatch, tmp_path):
    import pyhpe.bench.callpath

    def broken(batch, calls):
        raise ValueError("no native kernels")

    monkeypatch.setattr(pyhpe.bench.callpath, "measure", broken)
    return ["bench", "callpath", "--calls", "1"], "no native kernels"


def _existing_file(tmp_path):
    (tmp_path / "file").write_text("x")
    return str(tmp_path / "file")


# one failing invocation per command: argv (or a function of monkeypatch, tmp_path) -> the message
FAILURES = {
    ("info",): _fail_info,
    ("models",): lambda mp, tmp: (["models", "--filter", "no_such_*"], "no registered model matches"),
    ("train",): lambda mp, tmp: (["train", "--config", str(tmp / "none.yaml")], "config file not found"),
    ("eval",): lambda mp, tmp: (["eval", "--checkpoint", str(tmp / "none.safetensors"), "--data", "synthetic"],
                                "not found"),
    ("demo",): lambda mp, tmp: (["demo", "--n-train", "10"], "must be at least one batch"),
    ("compare",): lambda mp, tmp: (["compare", "--config", "configs/compare_synthetic.yaml", "budget.kind=steps"],
                                   "'budget.kind' must be time or epochs"),
    ("predict",): lambda mp, tmp: (["predict", str(tmp / "none.jpg"), "--checkpoint", str(tmp / "m.safetensors")],
                                   "input not found"),
    ("export",): lambda mp, tmp: (["export", "--checkpoint", str(tmp / "none.safetensors")], "not found"),
    ("data", "filelist"): lambda mp, tmp: (["data", "filelist", str(tmp / "none")], "not found"),
    ("data", "biwi-preprocess"): lambda mp, tmp: (["data", "biwi-preprocess", str(tmp / "none"), str(tmp / "o")],
                                                  "not found"),
    ("data", "show"): lambda mp, tmp: (["data", "show", str(tmp / "none")], "no such file or folder"),
    ("data", "check"): lambda mp, tmp: (["data", "-v", "check", str(tmp / "none")], "no such file or folder"),
    ("data", "synth"): lambda mp, tmp: (["data", "synth", "--out", str(tmp / "s"), "--n", "0"], "--n must be >= 1"),
    ("bench", "kernels"): lambda mp, tmp: (["bench", "kernels", "--out", _existing_file(tmp)], "File exists"),
    ("bench", "callpath"): _fail_callpath,
    ("bench", "mixer"): lambda mp, tmp: (["bench", "mixer", "--out", _existing_file(tmp)], "File exists"),
    ("bench", "cuda"): lambda mp, tmp: (["bench", "cuda", "--out", _existing_file(tmp)], "File exists"),
    ("bench", "trgv2"): lambda mp, tmp: (["bench", "trgv2", "--out", _existing_file(tmp)], "File exists"),
    ("bench", "detect"): lambda mp, tmp: (["bench", "detect", "--out", _existing_file(tmp)], "File exists"),
    ("bench", "predict"): lambda mp, tmp: (["bench", "predict", "--out", _existing_file(tmp)], "File exists"),
    ("bench", "deploy"): lambda mp, tmp: (["bench", "deploy", "--models", "no_such_model"],
                                          "unknown model 'no_such_model'"),
    ("bench", "fused"): lambda mp, tmp: (["bench", "fused", "--pyhpe-bench", str(tmp / "none")], "not found"),
    ("bench", "precision"): lambda mp, tmp: (["bench", "precision", "--pyhpe-infer", str(tmp / "none")],
                                             "not an executable"),
    ("bench", "profile-ffn"): lambda mp, tmp: (["bench", "profile-ffn", "--pyhpe-profile", str(tmp / "none")],
                                               "not found"),
    ("bench", "winograd"): lambda mp, tmp: (["bench", "winograd", str(tmp / "none.ncnn.param")],
                                            "no such .ncnn.param file"),
    ("bench", "throughput"): lambda mp, tmp: (["bench", "throughput", "--out", _existing_file(tmp)], "File exists"),
    ("bench", "peak"): lambda mp, tmp: (["bench", "peak", "--quick", "--out", _existing_file(tmp)], "File exists"),
    ("bench", "fixed-steps"): lambda mp, tmp: (["bench", "fixed-steps", "--model", "no_such_model",
                                                "--out", str(tmp / "o")], "unknown model 'no_such_model'"),
    ("align",): lambda mp, tmp: (["align", "--train-template", str(tmp / "none.obj"),
                                  "--test-template", str(tmp / "none.obj"),
                                  "--train-landmarks", "0", "--test-landmarks", "0"], "file not found"),
    ("convert", "trgv2-official"): lambda mp, tmp: (
        ["convert", "trgv2-official", "--checkpoint", str(tmp / "none.bin"), "--data-dir", str(tmp),
         "--out", str(tmp / "out.safetensors")], "not found"),
}


def test_every_command_has_a_failure_case():
    assert set(FAILURES) == set(LEAVES)


@pytest.mark.parametrize("path", sorted(FAILURES), ids=" ".join)
def test_failure_exits_1_with_one_line(capsys, monkeypatch, tmp_path, path):
    argv, expect = FAILURES[path](monkeypatch, tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"pyhpe {' '.join(path)}: error:") and expect in lines[0], lines[0]


def test_exit_status_of_the_process(tmp_path):
    """`python -m pyhpe` exits with what main returns: 1 failure (one line), 2 usage, 0 help."""
    cases = {("data", "check", str(tmp_path / "none")): 1, ("models", "--bogus"): 2, ("data", "--help"): 0}
    procs = {argv: start_command([*PYHPE, *argv], cwd=tmp_path) for argv in cases}
    for argv, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == cases[argv], (argv, err[-2000:])
        assert "Traceback" not in err
        if cases[argv] == 1:
            assert err.strip().splitlines() == [f"pyhpe data check: error: {argv[-1]}: no such file or folder"]


# ---- one vocabulary: renamed flags keep their old spelling as a hidden, working alias -----------

RENAMED = [  # (command, new spelling argv, old spelling argv, dest)
    (("predict",), ["x.jpg", "--checkpoint", "m.onnx"], ["x.jpg", "--model", "m.onnx"], "checkpoint"),
    (("predict",), ["x.jpg", "--checkpoint", "m", "--out", "d"], ["x.jpg", "--checkpoint", "m", "--output", "d"],
     "output"),
    (("export",), ["--out", "m.onnx"], ["--output", "m.onnx"], "output"),
    (("models",), ["--out", "s.json"], ["--json", "s.json"], "json"),
    (("demo",), ["--memory-format", "nchw"], ["--layout", "nchw"], "layout"),
    (("bench", "kernels"), ["--batch-sizes", "1", "64"], ["--sizes", "1", "64"], "sizes"),
    (("bench", "mixer"), ["--batch-sizes", "1,32"], ["--batches", "1", "32"], "batches"),
    (("bench", "callpath"), ["--batch-size", "8"], ["--batch", "8"], "batch"),
    (("bench", "throughput"), ["--batch-size", "8"], ["--batch", "8"], "batch"),
    (("bench", "fixed-steps"), ["--batch-size", "8"], ["--batch", "8"], "batch"),
    (("data", "biwi-preprocess"), ["r", "o", "--size", "128"], ["r", "o", "--img-size", "128"], "img_size"),
    (("data", "biwi-preprocess"), ["r", "o", "--train-fraction", "0.7"], ["r", "o", "--split", "0.7"], "split"),
]


@pytest.mark.parametrize("path, new, old, dest", RENAMED, ids=lambda v: v if isinstance(v, str) else None)
def test_renamed_flags_keep_a_hidden_alias(capsys, path, new, old, dest):
    parser = _leaf_parser(path)
    want = vars(parser.parse_args(new))
    assert capsys.readouterr().err == ""
    assert vars(parser.parse_args(old)) == want
    flag = next(a for a in old if a.startswith("--") and a not in new)
    assert f"{flag} is deprecated" in capsys.readouterr().err
    assert flag not in parser.format_help().split()  # hidden from --help
    assert dest in want


def test_one_vocabulary():
    """`--checkpoint` is a file, `--model` a registered name, `--out` where results go (visible flags)."""
    retired = {"--output", "--sizes", "--batches", "--batch", "--img-size", "--weights"}
    for path in LEAVES:
        parser = _leaf_parser(path)
        shown = [a for a in parser._actions if a.help != argparse.SUPPRESS]
        visible = {s for a in shown for s in a.option_strings}
        assert not visible & retired, (path, visible & retired)
        # --json prints JSON (pyhpe info, the C++ tools); a file to write is --out
        assert all(a.nargs == 0 for a in shown if "--json" in a.option_strings), path
        if "--model" in visible and "--checkpoint" in visible:
            model = next(a for a in parser._actions if "--model" in a.option_strings)
            assert "name" in model.help or "architecture" in model.help, (path, model.help)
    predict = _leaf_parser(("predict",))
    assert "--model" not in predict.format_help()  # a file there: --checkpoint
