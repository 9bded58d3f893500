"""pyhpe.bench.phone.read_phone_results: pyhpe-bench output saved on a phone, read back."""

from __future__ import annotations

import pytest

from pyhpe.bench.phone import read_phone_results

# Real stdout of the static aarch64 pyhpe-bench (tools/build_runtime_aarch64.sh) under
# qemu-aarch64 -cpu cortex-a76 (no sysroot), RepNeXt-M4 random weights at 64 px, plain and fused,
# two runs of each model interleaved (tests/runtime/test_runtime_static.py reads a fresh one).
QEMU_OUTPUT = """\
# ncnn 1.0.20261204; aarch64 NEON; fp16 arithmetic available; dotprod yes; fused mixer neon; fused ffn neon; cpus 2
# input 64, warm-up 0, runs 2, models interleaved
/tmp/m4/m4.ncnn.param fp32 threads=1 median=3377.340 ms p10=3220.197 p90=3534.483 p99=3569.840 min=3180.911 mean=3377.340
RESULT model=m4 precision=fp32 threads=1 input=64 runs=2 clock=wall min_ms=3180.9114 median_ms=3377.3400 p10_ms=3220.1971 p90_ms=3534.4830 p99_ms=3569.8401 mean_ms=3377.3400
/tmp/m4/m4.fused.ncnn.param fp32 threads=1 median=3466.955 ms p10=3373.670 p90=3560.239 p99=3581.228 min=3350.349 mean=3466.955
RESULT model=m4.fused precision=fp32 threads=1 input=64 runs=2 clock=wall min_ms=3350.3492 median_ms=3466.9549 p10_ms=3373.6703 p90_ms=3560.2394 p99_ms=3581.2284 mean_ms=3466.9549
/tmp/m4/m4.ncnn.param fp32 threads=2 median=7523.230 ms p10=7278.483 p90=7767.978 p99=7823.046 min=7217.296 mean=7523.230
RESULT model=m4 precision=fp32 threads=2 input=64 runs=2 clock=wall min_ms=7217.2962 median_ms=7523.2303 p10_ms=7278.4830 p90_ms=7767.9776 p99_ms=7823.0457 mean_ms=7523.2303
/tmp/m4/m4.fused.ncnn.param fp32 threads=2 median=5256.401 ms p10=4892.097 p90=5620.705 p99=5702.674 min=4801.022 mean=5256.401
RESULT model=m4.fused precision=fp32 threads=2 input=64 runs=2 clock=wall min_ms=4801.0215 median_ms=5256.4013 p10_ms=4892.0975 p90_ms=5620.7052 p99_ms=5702.6736 mean_ms=5256.4013
"""


def _write(tmp_path, text: str, name: str = "phone.txt", newline: str = "\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def test_reads_real_qemu_output(tmp_path):
    rows = read_phone_results(_write(tmp_path, "# device: qemu cortex-a76\n" + QEMU_OUTPUT))
    assert [(r["model"], r["threads"]) for r in rows] == [("m4", 1), ("m4.fused", 1), ("m4", 2), ("m4.fused", 2)]
    for r in rows:
        assert r["device"] == "qemu cortex-a76" and r["precision"] == "fp32" and r["clock"] == "wall"
        assert r["input"] == 64 and r["runs"] == 2
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"] <= r["p99_ms"]


def test_concatenated_runs_crlf_and_no_device(tmp_path):
    """Two runs' output (the second with a model path holding spaces and fp16), written through
    `adb shell` (CRLF), without a device line."""
    second = """\
# ncnn 1.0.20261204; aarch64 NEON; fp16 arithmetic available; cpus 8
# input 224, warm-up 5, runs 50
fp16 threads=4 median=7.500 ms p10=7.100 p90=8.000 p99=9.000 min=7.000 mean=7.600
RESULT model=my model precision=fp16 threads=4 input=224 runs=50 clock=wall min_ms=7.0000 median_ms=7.5000 \
p10_ms=7.1000 p90_ms=8.0000 p99_ms=9.0000 mean_ms=7.6000
"""
    rows = read_phone_results(_write(tmp_path, QEMU_OUTPUT + second, newline="\r\n"))
    assert len(rows) == 5 and all(r["device"] is None for r in rows)
    assert rows[-1] == {"model": "my model", "precision": "fp16", "threads": 4, "input": 224, "runs": 50,
                        "clock": "wall", "min_ms": 7.0, "median_ms": 7.5, "p10_ms": 7.1, "p90_ms": 8.0,
                        "p99_ms": 9.0, "mean_ms": 7.6, "device": None}


GOOD = ("RESULT model=m4 precision=fp32 threads=1 input=224 runs=50 clock=wall min_ms=10.0 median_ms=11.0 "
        "p10_ms=10.5 p90_ms=12.0 p99_ms=13.0 mean_ms=11.2")


@pytest.mark.parametrize("text,where,message", [
    ("", "", "empty file"),
    ("\n  \n", "", "empty file"),
    ("# device: Pixel\n# input 224\nfp32 threads=1 median=1 ms\n", "", "no RESULT lines in 3 lines"),
    (GOOD.replace("min_ms=10.0", "min_ms=1o.0"), ":1:", "min_ms='1o.0' is not a number"),
    (GOOD.replace("min_ms=10.0", "min_ms=nan"), ":1:", "min_ms=nan is out of range"),
    (GOOD.replace("threads=1", "threads=0"), ":1:", "threads=0 is out of range"),
    (GOOD.replace("threads=1", "threads=1.5"), ":1:", "threads='1.5' is not a number"),
    (GOOD.replace(" mean_ms=11.2", ""), ":1:", "mean_ms= is missing"),
    (GOOD.replace("precision=fp32", "precision=int8"), ":1:", "precision must be one of fp32, fp16"),
    (GOOD.replace("model=m4 ", "model="), ":1:", "must start with 'RESULT model=<stem> precision='"),
    (GOOD.replace("min_ms=10.0", "min_ms=20.0"), ":1:", "min_ms=20.0 exceeds median_ms=11.0"),
    (GOOD.replace("runs=50", "runs=50 oops"), ":1:", "'oops' is not key=value"),
    (GOOD[:GOOD.index(" min_ms")], ":1:", "min_ms= is missing"),  # a truncated line
    (GOOD[:GOOD.index(" min_ms") + 2], ":1:", "'m' is not key=value"),
    (GOOD + "\n# device: Pixel\n", ":2:", "only the first line may name the device"),
    ("# device:  \n" + GOOD, ":1:", "without a device name"),
    ("# device: Pixel\n" + GOOD + "\n" + GOOD.replace("10.0", "9.0"), ":3:",
     "m4 fp32 threads=1 was already timed on line 2"),
])
def test_bad_files_name_the_file_and_line(tmp_path, text, where, message):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        read_phone_results(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}{where}") and message in msg and "\n" not in msg, msg


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ValueError, match=r"none\.txt: cannot read the phone results"):
        read_phone_results(tmp_path / "none.txt")
    (tmp_path / "bin.txt").write_bytes(b"RESULT \xff\xfe")
    with pytest.raises(ValueError, match=r"bin\.txt: not a text file \(byte 7 is not UTF-8\)"):
        read_phone_results(tmp_path / "bin.txt")
