"""Renderer speed (pytest-benchmark; not a pass/fail gate).

    python -m pytest tests/benchmarks/test_bench_synthetic.py --benchmark-enable -q

Each round renders a fixed batch of consecutive images on one OpenCV thread; images/s = batch /
mean round time (``extra_info``). On a shared machine add ``--benchmark-timer time.process_time``
to time CPU, not wall clock. ``identity_repeat`` 1 draws a new person for every image (the default);
4 keeps each person for 4 consecutive images (their mesh and texture are built once).
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


@pytest.mark.parametrize("size, identity_repeat", [(224, 1), (224, 4), (128, 1)])
def test_render_images_per_second(benchmark, one_cv_thread, size, identity_repeat):
    cfg = SynthConfig(size=size, identity_repeat=identity_repeat)
    render_index(cfg, 0, 0)  # warm caches (topology, noise bank)
    start = iter(range(0, 10**9, BATCH))

    def render_batch():
        first = next(start)
        for i in range(first, first + BATCH):
            render_index(cfg, 0, i)

    benchmark.pedantic(render_batch, rounds=6, iterations=1)
    benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats.stats.mean
