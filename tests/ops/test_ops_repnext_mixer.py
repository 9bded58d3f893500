"""The fused RepNeXt mixer against its PyTorch reference: outputs, gradients (float64
gradcheck and against autograd of the reference), op registration, torch.compile, bad input."""

from __future__ import annotations

import pytest
import torch
from torch.library import opcheck

import pyhpe.ops as ops
from pyhpe import _C

from support.ops_cases import mixer_against_reference, mixer_params


SHAPES = [(1, 4, 1, 1), (2, 8, 9, 13), (1, 16, 14, 14), (3, 4, 5, 7), (1, 8, 23, 30)]


@pytest.mark.parametrize("downsample", [False, True], ids=["block", "downsample"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("threads", [1, 2])
def test_forward_and_backward_match_reference(shape, downsample, threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        N, C, H, W = shape
        params = [p.requires_grad_() if p is not None else None for p in mixer_params(C, downsample)]
        x = torch.randn(N, C, H, W, dtype=torch.float64, requires_grad=True)
        ours = ops.repnext_mixer(x, *params)
        want = ops.repnext_mixer_ref(x, *params)
        assert ours.shape == want.shape
        assert torch.allclose(ours, want, atol=1e-12)
        leaves = [x] + [p for p in params if p is not None]
        g = torch.randn_like(want)
        for a, b in zip(torch.autograd.grad(ours, leaves, g), torch.autograd.grad(want, leaves, g)):
            assert torch.allclose(a, b, atol=1e-11, rtol=1e-11)
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("downsample", [False, True])
def test_float32_within_1e5_of_reference(downsample):
    params = mixer_params(64, downsample, torch.float32)
    x = torch.randn(2, 64, 28, 28)
    with torch.no_grad():
        ours = ops.repnext_mixer(x, *params)
        want = ops.repnext_mixer_ref(x, *params)
    assert (ours - want).abs().max() <= 1e-5 * want.abs().max()


@pytest.mark.parametrize("downsample", [False, True], ids=["block", "downsample"])
@pytest.mark.parametrize("shape", [(10, 32, 28, 28), (9, 64, 14, 14), (17, 16, 7, 7)])
def test_float32_training_sizes_match_float64_reference(shape, downsample):
    """Batches that are not a multiple of the SIMD width (packs mix channels and images), the
    sliding-window kernels' full blocks and tails, stride-2 polyphase gradients."""
    ours, want, grads, want_grads = mixer_against_reference(shape, downsample, torch.float32)
    assert (ours.double() - want).abs().max() <= 2e-6 * want.abs().max()
    for a, b in zip(grads, want_grads):
        assert (a.double() - b).abs().max() <= 2e-5 * b.abs().max()


@pytest.mark.parametrize("downsample", [False, True], ids=["block", "downsample"])
@pytest.mark.parametrize("shape", [(3, 32, 14, 14), (2, 20, 9, 11)])
def test_channels_last_matches_nchw(shape, downsample):
    """channels_last inputs run the NHWC kernels (L consecutive channels per pack when the
    group size allows, per-lane gathers otherwise) and give the NCHW results, in NHWC layout."""
    N, C, H, W = shape
    params = [p.float().requires_grad_() if p is not None else None
              for p in mixer_params(C, downsample)]
    x = torch.randn(N, C, H, W)
    x_cl = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    x_cf = x.clone().requires_grad_()
    out_cl = ops.repnext_mixer(x_cl, *params)
    out_cf = ops.repnext_mixer(x_cf, *params)
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out_cl, out_cf, atol=1e-6, rtol=1e-5)
    leaves = [p for p in params if p is not None]
    g = torch.randn_like(out_cf)
    grads_cl = torch.autograd.grad(out_cl, [x_cl] + leaves, g)
    grads_cf = torch.autograd.grad(out_cf, [x_cf] + leaves, g)
    assert grads_cl[0].is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(grads_cl, grads_cf):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    with torch.no_grad():  # the BN-folding eval form too
        scale, shift = torch.rand(out_cf.shape[1]) + 0.5, torch.randn(out_cf.shape[1])
        folded_cl = ops.repnext_mixer(x_cl, *params, scale=scale, shift=shift)
        folded_cf = ops.repnext_mixer(x_cf, *params, scale=scale, shift=shift)
    assert torch.allclose(folded_cl, folded_cf, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("downsample", [False, True])
def test_gradcheck_float64(downsample):
    params = [p.requires_grad_() if p is not None else None for p in mixer_params(8, downsample)]
    x = torch.randn(2, 8, 6, 7, dtype=torch.float64, requires_grad=True)
    present = [p for p in params if p is not None]

    def f(xx, *ps):
        it = iter(ps)
        return ops.repnext_mixer(xx, *[next(it) if p is not None else None for p in params])

    assert torch.autograd.gradcheck(f, (x, *present))


@pytest.mark.parametrize("downsample", [False, True])
def test_bn_folded_eval_form(downsample):
    params = mixer_params(8, downsample)
    c_out = 16 if downsample else 8
    scale, shift = torch.rand(c_out, dtype=torch.float64) + 0.5, torch.randn(c_out, dtype=torch.float64)
    x = torch.randn(2, 8, 10, 10, dtype=torch.float64)
    ours = ops.repnext_mixer(x, *params, scale=scale, shift=shift)
    want = ops.repnext_mixer_ref(x, *params) * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
    assert torch.allclose(ours, want, atol=1e-12)
    with pytest.raises(RuntimeError, match="not differentiable"):
        ops.repnext_mixer(x.requires_grad_(), *params, scale=scale, shift=shift)


@pytest.mark.parametrize("downsample", [False, True])
def test_opcheck(downsample):
    params = [p.requires_grad_() if p is not None else None for p in mixer_params(8, downsample,
                                                                                 torch.float32)]
    x = torch.randn(2, 8, 6, 7, requires_grad=True)
    result = opcheck(torch.ops.pyhpe.repnext_mixer.default, (x, *params, None, None))
    assert all(v == "SUCCESS" for v in result.values()), result


def test_torch_compile_fullgraph():
    params = [p.float().requires_grad_() for p in mixer_params(8, False)]
    x1 = torch.randn(2, 8, 9, 9, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    compiled = torch.compile(lambda x, *p: ops.repnext_mixer(x, *p).square().sum(), fullgraph=True)
    compiled(x1, *params).backward()
    ops.repnext_mixer_ref(x2, *params).square().sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-3, rtol=1e-4)


def test_bad_arguments():
    params = mixer_params(8, False, torch.float32)
    x = torch.randn(1, 8, 5, 5)
    with pytest.raises(ValueError, match="NCHW"):
        ops.repnext_mixer(x[0], *params)
    with pytest.raises(ValueError, match="must match x"):
        ops.repnext_mixer(x, params[0].double(), *params[1:])
    with pytest.raises(ValueError, match="scale and shift"):
        ops.repnext_mixer(x, *params, scale=torch.ones(8))
    with pytest.raises(ValueError, match="divisible by 4"):
        ops.repnext_mixer(torch.randn(1, 6, 5, 5), *mixer_params(8, False, torch.float32))
    with pytest.raises(ValueError, match="w_m"):  # wrong channel count in one kernel
        ops.repnext_mixer(x, params[0], params[1], torch.randn(3, 1, 7, 7), *params[3:])
    with pytest.raises(ValueError, match="odd kernel sizes"):
        ops.repnext_mixer(x, torch.randn(2, 1, 4, 4), *params[1:])
    with pytest.raises(ValueError, match="all given"):
        ops.repnext_mixer(x, *params[:4], params[4], None, None, None)
    with pytest.raises(TypeError, match="float32 or float64"):
        out = torch.empty(1, 8, 5, 5)
        _C.repnext_mixer(x.half(), *[p.half() for p in params], None, None, out)


def test_empty_batch():
    params = mixer_params(8, True, torch.float32)
    out = ops.repnext_mixer(torch.empty(0, 8, 6, 6), *params)
    assert out.shape == (0, 16, 3, 3)


# --- the RepNeXt modules on the fused op ------------------------------------------------------


def _randomized_model(name="sixdrepnet_repnext_m0"):
    from pyhpe.models import create_model

    torch.manual_seed(0)
    model = create_model(name)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return model


def test_repnext_fused_training_matches_plain_pytorch():
    from pyhpe.models.backbones.repnext import set_fused

    model = _randomized_model().double()
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    params = list(model.parameters())
    outs, grads = [], []
    for fused in (True, False):
        set_fused(model, fused)
        y = model(x).sixd
        outs.append(y)
        grads.append(torch.autograd.grad(y.square().sum(), params))
    assert torch.allclose(outs[0], outs[1], atol=1e-10)
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-9, rtol=1e-7)


def test_repnext_fused_eval_and_deploy_match_plain_pytorch():
    from pyhpe.models import reparameterize
    from pyhpe.models.backbones.repnext import set_fused

    model = _randomized_model().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        plain = set_fused(model, False)(x).sixd
        fused = set_fused(model, True)(x).sixd  # BN folded into the op's output
        deploy = reparameterize(model)(x).sixd
    assert torch.allclose(fused, plain, atol=1e-5)
    assert torch.allclose(deploy, plain, atol=1e-5)


def test_export_paths_see_plain_layers():
    """Tracing (ONNX export, TorchScript) uses the plain PyTorch layers, not the custom op."""
    model = _randomized_model().eval()
    traced = torch.jit.trace(model.backbone, torch.randn(1, 3, 64, 64), check_trace=False)
    assert "pyhpe::repnext_mixer" not in str(traced.inlined_graph)


def test_autocast_bfloat16_training_step():
    """Under CPU autocast the op computes in float32 (it has no bfloat16 kernel)."""
    model = _randomized_model()
    x = torch.randn(2, 3, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x).sixd
        loss = ops.sixd_geodesic_loss(y, ops.gram_schmidt(torch.randn(2, 6)))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert torch.isfinite(loss) and grads and all(torch.isfinite(g).all() for g in grads)
