"""Renderer speed (pytest-benchmark; not a pass/fail gate).

    python -m pytest tests/benchmarks/test_bench_synthetic.py --benchmark-enable -q

Each round renders a fixed batch of images on one OpenCV thread; images/s = batch / mean round time.
"""

from __future__ import annotations

import cv2
import pytest

from pyhpe.data.synthetic import SynthConfig, render_index

BATCH = 50


@pytest.fixture
def one_cv_thread():
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(before)


@pytest.mark.parametrize("size", [224, 128])
def test_render_images_per_second(benchmark, one_cv_thread, size):
    cfg = SynthConfig(size=size)
    render_index(cfg, 0, 0)  # warm caches (topology, noise bank)
    start = iter(range(0, 10**9, BATCH))

    def render_batch():
        first = next(start)
        for i in range(first, first + BATCH):
            render_index(cfg, 0, i)

    benchmark.pedantic(render_batch, rounds=6, iterations=1)
    benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats.stats.mean
