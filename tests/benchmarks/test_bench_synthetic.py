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
    if benchmark.stats:  # None under --benchmark-disable (the batch then runs once, as a smoke test)
        benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats.stats.mean


def _stage_inputs(n: int = BATCH):
    import numpy as np

    from pyhpe.data.synthetic.assets import build_assets
    from pyhpe.data.synthetic.render import sample_scene

    cfg = SynthConfig()
    people = [build_assets(np.random.default_rng([1, i]), cfg.n_lat, cfg.n_lon, cfg.glasses_prob) for i in range(n)]
    scenes = [sample_scene(cfg, np.random.default_rng([2, i]), people[i]) for i in range(n)]
    return cfg, people, scenes


@pytest.mark.parametrize("stage", ["person", "scene", "render", "id_buffer"])
def test_stage_milliseconds(benchmark, one_cv_thread, stage):
    """Where an image's time goes: ms per image for each stage (``extra_info['ms_per_image']``)."""
    import numpy as np

    from pyhpe.data.synthetic import mesh
    from pyhpe.data.synthetic.assets import build_assets
    from pyhpe.data.synthetic.camera import project, to_camera
    from pyhpe.data.synthetic.raster import draw_ids, signed_areas
    from pyhpe.data.synthetic.render import render_scene, sample_scene

    cfg, people, scenes = _stage_inputs()
    topo = mesh.topology(cfg.n_lat, cfg.n_lon)
    drawn = []
    if stage == "id_buffer":
        for sc in scenes:
            cam = to_camera(sc.assets.vertices, sc.R, sc.t)
            xy = project(cam, sc.K)
            keep = np.nonzero((signed_areas(xy, topo.quads) > 0) | topo.double_sided)[0]
            sub = topo.quads[keep]
            drawn.append((xy, sub, np.argsort(-cam[:, 2][sub].mean(1))))
    shape = (cfg.size, cfg.size)
    work = {
        "person": lambda i: build_assets(np.random.default_rng([3, i]), cfg.n_lat, cfg.n_lon, cfg.glasses_prob),
        "scene": lambda i: sample_scene(cfg, np.random.default_rng([4, i]), people[i]),
        "render": lambda i: render_scene(scenes[i], cfg),
        "id_buffer": lambda i: draw_ids(drawn[i][0], drawn[i][1], drawn[i][2], shape),
    }[stage]

    def run():
        for i in range(BATCH):
            work(i)

    benchmark.pedantic(run, rounds=6, iterations=1)
    if not benchmark.stats:  # --benchmark-disable
        return
    benchmark.extra_info["ms_per_image"] = 1e3 * benchmark.stats.stats.mean / BATCH
    if drawn:
        quads = sum(len(d[1]) for d in drawn)
        benchmark.extra_info["us_per_quad"] = 1e6 * benchmark.stats.stats.mean / quads
