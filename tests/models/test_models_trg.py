"""TRGv2: the face topology derived from the renderer, the blocks' coordinate conventions, the
model's call contract, its initial pose (Eq. 3 from the box), stop-gradients, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pyhpe.geometry import crop_intrinsics, project_points, translation_from_correction
from pyhpe.models import create_model
from pyhpe.models.trg import FaceTopology, resolve_topology, synthetic_topology
from pyhpe.models.trg.blocks import normalized_to_pixels, pixels_to_normalized, sampling_grid, soft_argmax
from pyhpe.models.trg.topology import farthest_point_subsample

SIZE = 64


def _inputs(B=2, size=SIZE, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(B, 3, size, size, generator=g)
    K = torch.tensor([[500.0, 0, 300.0], [0, 500.0, 250.0], [0, 0, 1]]).expand(B, 3, 3)
    left = torch.tensor([200.0, 230.0])[:B]
    box = torch.stack([left, left - 40, left + 120, left + 80,
                       torch.full((B,), 500.0), torch.full((B,), 480.0), torch.full((B,), 640.0)], 1)
    return images, crop_intrinsics(K, box[:, :4], size), box, K


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("trgv2_repnext_m0", input_size=SIZE, hidden=64).eval()


def test_synthetic_topology_is_derived_consistently():
    topo = synthetic_topology()
    V = topo.num_vertices
    assert topo.template.shape == (V, 3) and topo.faces.max() < V
    # the template is the mean of a mirror-symmetric identity distribution: flip maps it onto itself
    mirrored = topo.template * np.array([-1.0, 1.0, 1.0], np.float32)
    assert np.abs(mirrored[topo.flip] - topo.template).max() < 1e-6
    assert np.array_equal(topo.flip[topo.flip], np.arange(V))
    # a quarter of the vertices, spread out: no two chosen vertices closer than 1 cm
    assert topo.num_subsampled == round(0.25 * V)
    sub = topo.template[topo.subsample]
    d = np.linalg.norm(sub[:, None] - sub[None], axis=2) + np.eye(len(sub))
    assert d.min() > 0.01
    # landmark vertices: the nose tip is the frontmost point, eye corners mirror each other
    nose = topo.template[topo.landmark_ids[30]]
    assert nose[2] == pytest.approx(topo.template[:, 2].min(), abs=0.01)
    assert topo.flip[topo.landmark_ids[36]] == topo.landmark_ids[45]
    assert synthetic_topology() is topo  # cached


def test_farthest_point_subsample_on_a_line():
    pts = np.stack([np.arange(11.0), np.zeros(11), np.zeros(11)], 1)
    assert farthest_point_subsample(pts, 3, 0).tolist() == [0, 5, 10]


def test_topology_rejects_bad_indices():
    topo = synthetic_topology()
    d = topo.to_dict()
    d["subsample"] = [0, 1, topo.num_vertices]
    with pytest.raises(ValueError, match="subsample indexes vertex"):
        FaceTopology.from_dict(d)
    d = topo.to_dict()
    d["flip"] = [0] * topo.num_vertices
    with pytest.raises(ValueError, match="involution"):
        FaceTopology.from_dict(d)
    with pytest.raises(ValueError, match="unknown topology"):
        resolve_topology("arkit")
    assert FaceTopology.from_dict(topo.to_dict()).num_vertices == topo.num_vertices


def test_pixel_normalisation_round_trip_and_edges():
    p = torch.tensor([[-0.5, -0.5], [63.5, 31.5], [31.5, 15.5]])
    n = pixels_to_normalized(p, 64, 32)
    assert torch.allclose(n, torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]))
    assert torch.allclose(normalized_to_pixels(n, 64, 32), p)


def test_soft_argmax_finds_a_peak():
    logits = torch.full((1, 2, 8, 8), -1e4)
    logits[0, 0, 2, 5] = 0.0  # row 2, column 5
    logits[0, 1, 7, 0] = 0.0
    xy = normalized_to_pixels(soft_argmax(logits), 8, 8)
    assert torch.allclose(xy[0], torch.tensor([[5.0, 2.0], [0.0, 7.0]]), atol=1e-5)


def test_sampling_grid():
    g = sampling_grid(18)
    assert g.shape == (324, 2) and g.min() == -1 and g.max() == 1
    assert torch.equal(g[1], torch.tensor([-1.0 + 2 / 17, -1.0]))  # x varies fastest


def test_call_contract_and_output_shapes(model):
    images, K_crop, box, _ = _inputs()
    with torch.no_grad():
        out = model(images, K_crop, box)
    V = model.topology.num_vertices
    assert out.R.shape == (2, 3, 3) and out.t.shape == (2, 3) and out.sixd.shape == (2, 6)
    assert out.vertices.shape == (2, V, 3) and out.landmarks.shape == (2, 68, 2)
    assert out["vertices_cam"].shape == (2, V, 3) and out["vertices_img"].shape == (2, V, 2)
    assert out["iter_R"].shape == (2, 2, 3, 3) and out["iter_vertices"].shape == (2, 2, V, 3)
    assert torch.allclose(out.R @ out.R.transpose(1, 2), torch.eye(3).expand(2, 3, 3), atol=1e-5)
    # the record's camera and image vertices follow from its own pose
    assert torch.allclose(out["vertices_img"], project_points(out.vertices, out.R, out.t, K_crop), atol=1e-3)


def test_initial_pose_is_eq3_of_the_box_and_template():
    """With zero-initialised regressor outputs the model returns Θ_0: R_0, V_0 and the translation
    of c_0 = (1, 0, 0), i.e. a 0.2 m face filling the box, centred on it."""
    torch.manual_seed(0)
    m = create_model("trgv2_repnext_m0", input_size=SIZE, hidden=32, iterations=2).eval()
    for reg in m.regressors:
        for head in (reg.shape_head, reg.pose_head):
            torch.nn.init.zeros_(head.weight)
    images, K_crop, box, K = _inputs()
    with torch.no_grad():
        out = m(images, K_crop, box)
    pp = K[:, :2, 2]
    want_t = translation_from_correction(torch.tensor([[1.0, 0, 0]] * 2), box, pp)
    assert torch.allclose(out.t, want_t, atol=1e-5)
    assert torch.allclose(out.R, torch.eye(3).expand(2, 3, 3), atol=1e-6)
    assert torch.allclose(out.vertices[0], torch.as_tensor(m.topology.template), atol=1e-7)
    # the head centre then projects onto the box centre of the full image
    centre = (box[:, :2] + box[:, 2:4]) / 2
    assert torch.allclose(project_points(out.t[:, None], torch.eye(3).expand(2, 3, 3),
                                         torch.zeros(2, 3), K)[:, 0], centre, atol=1e-3)


def test_stop_gradient_between_iterations(model):
    """TRGv2 detaches the previous face and pose: the last iteration's outputs do not depend on
    the first regressor through its prediction (only through the shared features)."""
    model.train()
    images, K_crop, box, _ = _inputs()
    out = model(images, K_crop, box)
    first = model.regressors[0]
    grads = torch.autograd.grad(out.t.sum() + out.vertices.sum(), list(first.parameters()),
                                allow_unused=True)
    assert all(g is None or float(g.abs().max()) == 0.0 for g in grads)
    g_iter1 = torch.autograd.grad(out["iter_t"][0].sum(), first.pose_head.weight)[0]
    assert float(g_iter1.abs().max()) > 0
    model.eval()


def test_direct_translation_ablation_starts_at_its_prior():
    torch.manual_seed(0)
    m = create_model("trgv2_repnext_m0", input_size=SIZE, hidden=32, translation="direct",
                     direct_depth=0.7).eval()
    for reg in m.regressors:
        torch.nn.init.zeros_(reg.pose_head.weight)
    images, K_crop, box, _ = _inputs()
    with torch.no_grad():
        out = m(images, K_crop, box)
    assert torch.allclose(out.t, torch.tensor([[0.0, 0.0, 0.7]] * 2))


@pytest.mark.parametrize("iterations", [1, 3])
def test_iteration_count(iterations):
    m = create_model("trgv2_repnext_m0", input_size=SIZE, hidden=32, iterations=iterations).eval()
    images, K_crop, box, _ = _inputs()
    with torch.no_grad():
        assert m(images, K_crop, box)["iter_t"].shape[0] == iterations


def test_bad_inputs_are_clear_errors(model):
    images, K_crop, box, _ = _inputs()
    with pytest.raises(ValueError, match="images must be"):
        model(images[:, :1], K_crop, box)
    with pytest.raises(ValueError, match="K_crop must be"):
        model(images, K_crop[:1], box)
    with pytest.raises(ValueError, match="box must be"):
        model(images, K_crop, box[:, :4])
    bad = box.clone()
    bad[0, 2] = bad[0, 0]  # zero-width box
    with pytest.raises(ValueError, match="box"):
        model(images, K_crop, bad)
    bad = box.clone()
    bad[0, 4] = 0.0
    with pytest.raises(ValueError):
        model(images, K_crop, bad)
    with pytest.raises(ValueError, match="iterations"):
        create_model("trgv2_repnext_m0", iterations=0)
    with pytest.raises(ValueError, match="translation"):
        create_model("trgv2_repnext_m0", translation="regress")


def test_official_point_and_landmark_conventions():
    """The released code's conventions: a crop pixel p samples φ at cell p·(w−1)/W
    (p/W·2−1 with align_corners=True), and heatmap cell j decodes to crop pixel j·W/w."""
    from pyhpe.models.trg.blocks import FeatureSampler, heatmap_landmarks, sampling_coords

    W, w = 64, 8
    ramp = torch.arange(w, dtype=torch.float64).expand(1, 1, w, w).contiguous()  # φ = column index
    sampler = FeatureSampler(channels=1, align_corners=True).double()
    p = torch.tensor([[[0.0, 0.0], [32.0, 10.0], [63.0, 5.0]]], dtype=torch.float64)
    raw = torch.nn.functional.grid_sample(ramp, sampling_coords(p, W, W, "official").unsqueeze(2),
                                          align_corners=sampler.align_corners)
    assert torch.allclose(raw.flatten(), p[0, :, 0] * (w - 1) / W)
    logits = torch.full((1, 1, w, w), -1e4)
    logits[0, 0, 3, 5] = 0.0
    assert torch.allclose(heatmap_landmarks(logits, W, W, "official")[0, 0], torch.tensor([40.0, 24.0]))
    assert torch.allclose(heatmap_landmarks(logits, W, W, "paper")[0, 0], torch.tensor([43.5, 27.5]))
    m = create_model("trgv2_repnext_m0", input_size=SIZE, hidden=32, form="official").eval()
    assert all(s.align_corners for s in m.samplers)
    images, K_crop, box, _ = _inputs()
    with torch.no_grad():
        assert torch.isfinite(m(images, K_crop, box).t).all()
