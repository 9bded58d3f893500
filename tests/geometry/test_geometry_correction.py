"""pyhpe.geometry.correction: TRGv2's Eq. 3 against the pinhole projection (both forms), its exact
inverse, the box quantities by hand, the principal point back from crop intrinsics, gradients,
tracing and bad input. Everything float64 against closed forms."""

from __future__ import annotations

import warnings

import pytest
import torch

from pyhpe.geometry import (
    FACE_SIZE_M,
    box_info,
    box_offsets,
    correction_from_translation,
    crop_intrinsics,
    principal_point_from_crop,
    project,
    translation_from_correction,
)

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def uniform(g: torch.Generator, lo: float, hi: float, *shape: int) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=F64)


def random_boxes(g: torch.Generator, n: int, square: bool = True) -> torch.Tensor:
    """(n, 7) [left, top, right, bottom, f, H, W]: boxes of side 40..300 px inside the image."""
    f, H, W = uniform(g, 300, 1500, n), uniform(g, 480, 960, n), uniform(g, 640, 1280, n)
    b = uniform(g, 40, 300, n)
    h = b if square else b * uniform(g, 0.7, 1.3, n)
    left, top = uniform(g, 0, 1, n) * (W - b), uniform(g, 0, 1, n) * (H - h)
    return torch.stack([left, top, left + b, top + h, f, H, W], -1)


def random_principal_points(g: torch.Generator, box: torch.Tensor) -> torch.Tensor:
    """Principal points up to ±60 px away from the image centre (W/2, H/2)."""
    return image_centres(box) + uniform(g, -60, 60, box.shape[0], 2)


def image_centres(box: torch.Tensor) -> torch.Tensor:
    return torch.stack([box[:, 6], box[:, 5]], -1) / 2


def full_K(box: torch.Tensor, pp: torch.Tensor) -> torch.Tensor:
    K = torch.zeros(box.shape[0], 3, 3, dtype=F64)
    K[:, 0, 0] = K[:, 1, 1] = box[:, 4]
    K[:, :2, 2] = pp
    K[:, 2, 2] = 1.0
    return K


def random_corrections(g: torch.Generator, n: int) -> torch.Tensor:
    return torch.cat([uniform(g, 0.5, 2.0, n, 1), uniform(g, -0.3, 0.3, n, 2)], -1)


def random_translations(g: torch.Generator, n: int) -> torch.Tensor:
    return torch.cat([uniform(g, -0.5, 0.5, n, 2), uniform(g, 0.3, 3.0, n, 1)], -1)


def centres(box: torch.Tensor) -> torch.Tensor:
    return (box[:, 0:2] + box[:, 2:4]) / 2


def sides(box: torch.Tensor) -> torch.Tensor:
    return box[:, 2:3] - box[:, 0:1]


def head_pixel(t: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    return project(t[:, None, :], K)[:, 0]


# ---- Eq. 3 against the projection ----------------------------------------------------------------

def test_paper_form_projects_the_head_centre_to_box_centre_plus_offset_times_side():
    g = gen(0)
    box = random_boxes(g, 200)
    pp, c = random_principal_points(g, box), random_corrections(g, 200)
    t = translation_from_correction(c, box, pp)
    assert t.shape == (200, 3) and t.dtype == F64
    expected = centres(box) + c[:, 1:] * sides(box)
    torch.testing.assert_close(head_pixel(t, full_K(box, pp)), expected, rtol=0, atol=1e-9)


def test_paper_form_with_zero_offset_puts_the_head_centre_at_the_box_centre():
    g = gen(1)
    box = random_boxes(g, 50, square=False)
    pp, c = random_principal_points(g, box), random_corrections(g, 50)
    c[:, 1:] = 0
    t = translation_from_correction(c, box, pp)
    torch.testing.assert_close(head_pixel(t, full_K(box, pp)), centres(box), rtol=0, atol=1e-9)


def test_official_form_projects_with_the_image_centre_and_half_the_offset():
    g = gen(2)
    box = random_boxes(g, 200)
    c = random_corrections(g, 200)
    t = translation_from_correction(c, box, form="official")
    K = full_K(box, image_centres(box))
    expected = centres(box) + 0.5 * c[:, 1:] * sides(box)
    torch.testing.assert_close(head_pixel(t, K), expected, rtol=0, atol=1e-9)
    # official τ̃ = 2 × paper τ̃ when the principal point is the image centre
    c_paper = torch.cat([c[:, :1], c[:, 1:] / 2], -1)
    torch.testing.assert_close(t, translation_from_correction(c_paper, box, image_centres(box)),
                               rtol=1e-12, atol=1e-14)


def test_official_form_ignores_the_principal_point():
    g = gen(3)
    box = random_boxes(g, 20)
    pp, c = random_principal_points(g, box), random_corrections(g, 20)
    off = translation_from_correction(c, box, form="official")
    torch.testing.assert_close(translation_from_correction(c, box, pp, form="official"), off,
                               rtol=0, atol=0)
    # ... so with a principal point away from the image centre it is not the paper's translation
    assert not torch.allclose(translation_from_correction(c, box, pp), off)


def test_unit_scale_is_a_face_of_face_size_filling_the_box():
    g = gen(4)
    box = random_boxes(g, 30)
    pp, c = random_principal_points(g, box), random_corrections(g, 30)
    c[:, 0] = 1
    f, b = box[:, 4], sides(box)[:, 0]
    for form in ("paper", "official"):
        t = translation_from_correction(c, box, pp, form=form)
        torch.testing.assert_close(t[:, 2], 0.2 * f / b, rtol=1e-14, atol=0)
    assert FACE_SIZE_M == 0.2
    t = translation_from_correction(c, box, pp)
    # a fronto-parallel 0.2 m segment centred on the head spans exactly b pixels
    ends = t[:, None, :] + torch.tensor([[-0.1, 0, 0], [0.1, 0, 0]], dtype=F64)
    uv = project(ends, full_K(box, pp))
    torch.testing.assert_close(uv[:, 1, 0] - uv[:, 0, 0], b, rtol=1e-12, atol=0)
    t15 = translation_from_correction(c, box, pp, face_size=0.15)
    torch.testing.assert_close(t15[:, 2], 0.15 * f / b, rtol=1e-14, atol=0)


# ---- the inverse ---------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["paper", "official"])
def test_inverse_after_forward_is_the_identity(form):
    g = gen(5)
    box = random_boxes(g, 300, square=False)
    pp, c = random_principal_points(g, box), random_corrections(g, 300)
    t = translation_from_correction(c, box, pp, form=form)
    torch.testing.assert_close(correction_from_translation(t, box, pp, form=form), c,
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("form", ["paper", "official"])
@pytest.mark.parametrize("face_size", [FACE_SIZE_M, 0.15])
def test_forward_after_inverse_is_the_identity(form, face_size):
    g = gen(6)
    box = random_boxes(g, 300)
    pp, t = random_principal_points(g, box), random_translations(g, 300)
    c = correction_from_translation(t, box, pp, form=form, face_size=face_size)
    t2 = translation_from_correction(c, box, pp, form=form, face_size=face_size)
    torch.testing.assert_close(t2, t, rtol=0, atol=1e-10)


def test_inverse_offset_is_the_projected_offset_from_the_box_centre_in_box_sides():
    g = gen(7)
    box = random_boxes(g, 100)
    pp, t = random_principal_points(g, box), random_translations(g, 100)
    c = correction_from_translation(t, box, pp)
    expected = (head_pixel(t, full_K(box, pp)) - centres(box)) / sides(box)
    torch.testing.assert_close(c[:, 1:], expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(c[:, 0], t[:, 2] * sides(box)[:, 0] / (0.2 * box[:, 4]),
                               rtol=1e-14, atol=0)


# ---- box quantities ------------------------------------------------------------------------------

def test_box_offsets_and_box_info_by_hand():
    box = torch.tensor([[100.0, 50.0, 300.0, 250.0, 500.0, 480.0, 640.0]], dtype=F64)
    pp = torch.tensor([[330.0, 236.0]], dtype=F64)
    # centre (200, 150), b = 200; τ = (200 − 330, 150 − 236); image centre (320, 240)
    torch.testing.assert_close(box_offsets(box, pp), torch.tensor([[-130.0, -86.0]], dtype=F64))
    torch.testing.assert_close(box_offsets(box, form="official"),
                               torch.tensor([[-120.0, -90.0]], dtype=F64))
    torch.testing.assert_close(box_info(box, pp), torch.tensor([[-0.26, -0.172, 0.4]], dtype=F64),
                               rtol=0, atol=1e-15)
    torch.testing.assert_close(box_info(box, pp, form="official"),
                               torch.tensor([[-0.96, -0.72, 0.4]], dtype=F64), rtol=0, atol=1e-15)


def test_official_box_info_is_four_times_the_paper_offsets_at_the_image_centre():
    g = gen(8)
    box = random_boxes(g, 100, square=False)
    paper = box_info(box, image_centres(box))
    official = box_info(box, form="official")
    torch.testing.assert_close(official[:, :2], 4 * paper[:, :2], rtol=1e-14, atol=0)
    torch.testing.assert_close(official[:, 2], paper[:, 2], rtol=0, atol=0)
    torch.testing.assert_close(paper[:, 2], sides(box)[:, 0] / box[:, 4], rtol=0, atol=0)


@pytest.mark.parametrize("out", [64, 192, 224, 256, (192, 160)])
@pytest.mark.parametrize("square", [True, False])
def test_principal_point_from_crop_inverts_crop_intrinsics(out, square):
    g = gen(9)
    box = random_boxes(g, 50, square=square)
    pp = random_principal_points(g, box)
    K_crop = crop_intrinsics(full_K(box, pp), box[:, :4], out)
    torch.testing.assert_close(principal_point_from_crop(K_crop, box), pp, rtol=0, atol=1e-9)


# ---- gradients, dtype, tracing -------------------------------------------------------------------

@pytest.mark.parametrize("form", ["paper", "official"])
def test_gradcheck_float64(form):
    g = gen(10)
    box = random_boxes(g, 4)
    pp, c, t = random_principal_points(g, box), random_corrections(g, 4), random_translations(g, 4)
    for x in (box, c, t):
        x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda c, box: translation_from_correction(c, box, pp, form),
                                    (c, box))
    assert torch.autograd.gradcheck(lambda t: correction_from_translation(t, box.detach(), pp, form),
                                    (t,))


def test_computed_in_the_input_dtype():
    g = gen(11)
    box = random_boxes(g, 5).float()
    pp, c = random_principal_points(g, box).float(), random_corrections(g, 5).float()
    t = translation_from_correction(c, box, pp)
    assert t.dtype == torch.float32
    assert correction_from_translation(t, box, pp).dtype == torch.float32
    assert box_info(box, pp).dtype == torch.float32


def test_forward_functions_trace_without_warnings_and_skip_value_checks():
    g = gen(12)
    box = random_boxes(g, 6)
    pp, c = random_principal_points(g, box), random_corrections(g, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.trace's own
        warnings.simplefilter("error", torch.jit.TracerWarning)
        paper = torch.jit.trace(lambda c, box, pp: translation_from_correction(c, box, pp),
                                (c, box, pp))
        official = torch.jit.trace(lambda c, box: translation_from_correction(c, box, form="official"),
                                   (c, box))
        info = torch.jit.trace(lambda box, pp: box_info(box, pp), (box, pp))
    box2 = random_boxes(g, 9)  # another batch size: the trace did not freeze B
    pp2, c2 = random_principal_points(g, box2), random_corrections(g, 9)
    torch.testing.assert_close(paper(c2, box2, pp2), translation_from_correction(c2, box2, pp2))
    torch.testing.assert_close(official(c2, box2),
                               translation_from_correction(c2, box2, form="official"))
    torch.testing.assert_close(info(box2, pp2), box_info(box2, pp2))
    bad = box2.clone()
    bad[:, 2] = bad[:, 0]  # zero width: the traced graph computes (inf), it does not check
    assert torch.isinf(paper(c2, bad, pp2)).any()


def test_meta_tensors_skip_value_checks():
    box = torch.empty(3, 7, device="meta", dtype=F64)
    c = torch.empty(3, 3, device="meta", dtype=F64)
    pp = torch.empty(3, 2, device="meta", dtype=F64)
    assert translation_from_correction(c, box, pp).shape == (3, 3)
    assert correction_from_translation(c, box, pp).shape == (3, 3)
    K = torch.empty(3, 3, 3, device="meta", dtype=F64)
    assert principal_point_from_crop(K, box).shape == (3, 2)


# ---- bad input -----------------------------------------------------------------------------------

def _valid():
    g = gen(13)
    box = random_boxes(g, 4)
    return box, random_principal_points(g, box), random_corrections(g, 4), random_translations(g, 4)


def _with(x: torch.Tensor, index, value: float) -> torch.Tensor:
    x = x.clone()
    x[index] = value
    return x


BAD = {
    "box (B, 4)": (lambda b, p, c, t: translation_from_correction(c, b[:, :4], p), "box must have shape"),
    "box (7,)": (lambda b, p, c, t: box_info(b[0], p), "box must have shape"),
    "c (B, 2)": (lambda b, p, c, t: translation_from_correction(c[:, :2], b, p), "c must have shape"),
    "t (B, 4)": (lambda b, p, c, t: correction_from_translation(torch.cat([t, t[:, :1]], -1), b, p),
                 "t must have shape"),
    "principal point (B, 3)": (lambda b, p, c, t: box_offsets(b, torch.cat([p, p[:, :1]], -1)),
                               "principal_point must have shape"),
    "principal point (2,)": (lambda b, p, c, t: translation_from_correction(c, b, p[0]),
                             "principal_point must have shape"),
    "c batch": (lambda b, p, c, t: translation_from_correction(c[:3], b, p), "batch sizes differ"),
    "t batch": (lambda b, p, c, t: correction_from_translation(t[:3], b, p), "batch sizes differ"),
    "principal point batch": (lambda b, p, c, t: box_info(b, p[:2]), "batch sizes differ"),
    "zero width": (lambda b, p, c, t: translation_from_correction(c, _with(b, (1, 2), b[1, 0]), p),
                   "zero or negative size"),
    "negative height": (lambda b, p, c, t: box_info(_with(b, (2, 3), b[2, 1] - 5), p),
                        "zero or negative size"),
    "zero f": (lambda b, p, c, t: correction_from_translation(t, _with(b, (0, 4), 0.0), p),
               "focal length f"),
    "negative f": (lambda b, p, c, t: box_offsets(_with(b, (3, 4), -500.0), form="official"),
                   "focal length f"),
    "t_z zero": (lambda b, p, c, t: correction_from_translation(_with(t, (0, 2), 0.0), b, p),
                 "t_z must be > 0"),
    "t_z negative": (lambda b, p, c, t: correction_from_translation(_with(t, (2, 2), -1.0), b, p,
                                                                    form="official"),
                     "t_z must be > 0"),
    "unknown form (forward)": (lambda b, p, c, t: translation_from_correction(c, b, p, form="v1"),
                               "unknown form 'v1'"),
    "unknown form (box_info)": (lambda b, p, c, t: box_info(b, p, form="Paper"),
                                "unknown form 'Paper'"),
    "paper without principal point": (lambda b, p, c, t: translation_from_correction(c, b),
                                      "needs principal_point"),
    "paper without principal point (inverse)": (lambda b, p, c, t: correction_from_translation(t, b),
                                                "needs principal_point"),
    "paper without principal point (offsets)": (lambda b, p, c, t: box_offsets(b),
                                                "needs principal_point"),
    "face size": (lambda b, p, c, t: translation_from_correction(c, b, p, face_size=0.0),
                  "face_size must be > 0"),
    "K_crop (B, 2, 3)": (lambda b, p, c, t: principal_point_from_crop(torch.zeros(4, 2, 3, dtype=F64), b),
                         "K_crop must have shape"),
    "K_crop batch": (lambda b, p, c, t: principal_point_from_crop(torch.eye(3, dtype=F64).expand(3, 3, 3), b),
                     "batch sizes differ"),
    "K_crop zero focal": (lambda b, p, c, t: principal_point_from_crop(torch.zeros(4, 3, 3, dtype=F64), b),
                          "K_crop focal lengths"),
    "K_crop box size": (lambda b, p, c, t: principal_point_from_crop(torch.eye(3, dtype=F64).expand(4, 3, 3),
                                                                     _with(b, (0, 3), b[0, 1])),
                        "zero or negative size"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_a_value_error_naming_the_problem(case):
    call, message = BAD[case]
    with pytest.raises(ValueError, match=message):
        call(*_valid())
