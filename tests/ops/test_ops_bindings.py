"""Every bad argument of every native binding (pyhpe._C) and of the Python front door raises
the documented exception (TypeError for types/dtypes, ValueError for shapes, devices, sizes,
contiguity and values), never crashes; numpy arrays work through DLPack like torch tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pyhpe.ops as ops
from pyhpe import _C
from pyhpe.ops import reference as ref

from support.ops_cases import random_rotations


def _good_args(op: str, n: int = 4, dtype=torch.float32):
    x6 = torch.randn(n, 6, dtype=dtype)
    R1, R2 = random_rotations(n, 1, dtype), random_rotations(n, 2, dtype)
    return {
        "gram_schmidt": dict(x6=x6, out=torch.empty(n, 3, 3, dtype=dtype)),
        "gram_schmidt_backward": dict(x6=x6, grad_R=torch.randn(n, 3, 3, dtype=dtype),
                                      grad_x6=torch.empty(n, 6, dtype=dtype)),
        "geodesic_distance": dict(R1=R1, R2=R2, out=torch.empty(n, dtype=dtype)),
        "geodesic_distance_backward": dict(R1=R1, R2=R2, grad=torch.ones(n, dtype=dtype),
                                           grad_R1=torch.empty(n, 3, 3, dtype=dtype),
                                           grad_R2=torch.empty(n, 3, 3, dtype=dtype)),
        "sixd_geodesic_distance": dict(x6=x6, R_gt=R2, out=torch.empty(n, dtype=dtype),
                                       grad_x6=torch.empty(n, 6, dtype=dtype)),
        "matrix_to_euler": dict(R=R1, out=torch.empty(n, 3, dtype=dtype)),
    }[op]


OPS = ["gram_schmidt", "gram_schmidt_backward", "geodesic_distance",
       "geodesic_distance_backward", "sixd_geodesic_distance", "matrix_to_euler"]


def _tensor_args(op):
    return [k for k, v in _good_args(op).items() if isinstance(v, torch.Tensor)]


@pytest.mark.parametrize("op", OPS)
def test_good_arguments_work_for_torch_and_numpy(op):
    getattr(_C, op)(**_good_args(op))
    np_args = {k: v.numpy() for k, v in _good_args(op, dtype=torch.float64).items()}
    getattr(_C, op)(**np_args)


def _cases():
    for op in OPS:
        for name in _tensor_args(op):
            yield op, name


@pytest.mark.parametrize("op,name", list(_cases()))
def test_each_tensor_argument_is_validated(op, name):
    fn = getattr(_C, op)

    def call(**override):
        args = _good_args(op)
        args.update(override)
        fn(**args)

    good = _good_args(op)[name]
    with pytest.raises(TypeError, match=name):
        call(**{name: good.to(torch.int32)})
    with pytest.raises(TypeError, match=name):
        call(**{name: good.to(torch.float16)})
    with pytest.raises(TypeError, match=name):
        call(**{name: "not a tensor"})
    with pytest.raises(TypeError, match=name):
        call(**{name: None} if name != "grad_x6" else {name: 3})
    with pytest.raises(ValueError, match=name):  # wrong shape
        call(**{name: torch.zeros(good.shape[0], 7, dtype=good.dtype)})
    if name not in ("x6", "R1", "R"):  # batch size is set by the first argument
        with pytest.raises(ValueError, match=name):
            call(**{name: torch.zeros((good.shape[0] + 1, *good.shape[1:]), dtype=good.dtype)})
        with pytest.raises(TypeError, match=name):  # dtype differs from the first argument
            call(**{name: good.double()})
    if good.dim() >= 2 and good.shape[-1] > 1:
        wide = torch.zeros((*good.shape[:-1], good.shape[-1] * 2), dtype=good.dtype)
        with pytest.raises(ValueError, match="contiguous"):
            call(**{name: wide[..., ::2]})


@pytest.mark.parametrize("op", OPS)
def test_threads_and_eps_are_validated(op):
    fn = getattr(_C, op)
    with pytest.raises(ValueError, match="num_threads"):
        fn(**_good_args(op), num_threads=0)
    if "eps" in fn.__doc__:
        with pytest.raises(ValueError, match="eps"):
            fn(**_good_args(op), eps=-1.0)
        with pytest.raises(ValueError, match="eps"):
            fn(**_good_args(op), eps=float("nan"))


def test_consumed_capsule_is_rejected():
    cap = torch.utils.dlpack.to_dlpack(torch.randn(2, 6))
    _C.gram_schmidt(cap, torch.empty(2, 3, 3))
    with pytest.raises(TypeError, match="capsule"):
        _C.gram_schmidt(cap, torch.empty(2, 3, 3))


def test_outputs_are_written_in_place_for_numpy():
    x = np.random.default_rng(0).standard_normal((5, 6))
    out = np.zeros((5, 3, 3))
    _C.gram_schmidt(x, out)
    assert np.allclose(out, ref.gram_schmidt_ref(torch.from_numpy(x)).numpy(), atol=1e-14)


def test_empty_batch_in_bindings():
    _C.gram_schmidt(torch.empty(0, 6), torch.empty(0, 3, 3))


def test_cuda_tensor_without_cuda_build_or_device():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: covered by the CUDA tests")
    # CPU machine: no CUDA tensor can be made; check the build reports what it has instead
    info = _C.build_info()
    assert isinstance(info["cuda"], bool)


# --- the Python front door ---------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: ops.gram_schmidt([[1.0] * 6]),
        lambda: ops.gram_schmidt(torch.ones(3, 6, dtype=torch.int64)),
        lambda: ops.geodesic_distance(torch.eye(3)[None], np.eye(3)[None]),
        lambda: ops.matrix_to_euler(torch.ones(2, 3, 3, dtype=torch.bool)),
    ],
)
def test_front_door_type_errors(call):
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: ops.gram_schmidt(torch.ones(3, 5)), "x6 must have shape"),
        (lambda: ops.gram_schmidt(torch.ones(6)), "x6 must have shape"),
        (lambda: ops.geodesic_distance(torch.ones(2, 3, 3), torch.ones(3, 3, 3)), "batch sizes"),
        (lambda: ops.geodesic_loss(torch.ones(2, 3, 3), torch.ones(2, 3, 3), reduction="avg"),
         "reduction"),
        (lambda: ops.sixd_geodesic_loss(torch.ones(2, 6), torch.ones(2, 3, 3), eps=2.0), "eps"),
        (lambda: ops.sixd_geodesic_loss(torch.ones(2, 6), torch.ones(2, 3)), "R_gt must have"),
        (lambda: ops.matrix_to_euler(torch.ones(2, 9)), "R must have shape"),
    ],
)
def test_front_door_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mixed_dtypes_promote():
    R1 = random_rotations(4, 1, torch.float32)
    R2 = random_rotations(4, 2, torch.float64)
    out = ops.geodesic_distance(R1, R2)
    assert out.dtype == torch.float64
