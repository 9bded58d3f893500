#!/usr/bin/env python
"""Run the official TRGv2 model on the tests' made-up checkpoint; save its outputs as a fixture.

    python tools/trgv2_official_reference.py --official /path/to/TRGv2_PR26_Released \
        --python /path/to/python-with-yacs-and-torchgeometry \
        --output tests/fixtures/trgv2_official_reference.npz

``--official`` is a checkout or a bare git directory of github.com/asw91666/TRGv2_PR26_Released.
Its code runs in a temporary copy whose topology files are replaced by the tests' grid face
(tests/support/trgv2_official_layout.py); nothing of it is written into this repository except
the outputs. The official code needs ``yacs`` and ``torchgeometry`` (``pip install --no-deps``)
beside torch; ``--python`` names the interpreter that has them. torchgeometry 0.1.2 predates
bool tensors (it computes ``1 - mask``), so the runner lets ``1 - bool_tensor`` promote to float. The pretrained ImageNet download
of its ResNet is stubbed out (every weight is then replaced by the made-up checkpoint).

The fixture holds: the official state_dict's keys and shapes, the inputs' digest, the outputs
(pred_pose (B, 9), pred_R_t (B, 4, 4), pred_face_world (B, 1220, 3), pred_face_cam, pred_lmk68
(B, 68, 2) normalised, and the first iteration's pose), the official commit and torch version.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.trgv2_official_layout import write_official_topology

INNER = r"""
import json, sys
import numpy as np
import torch
import torch.utils.model_zoo as model_zoo
model_zoo.load_url = lambda *a, **k: {}  # no download: every weight is replaced below
_rsub = torch.Tensor.__rsub__  # torchgeometry 0.1.2 computes `1 - mask` on bool masks (old torch)
torch.Tensor.__rsub__ = lambda self, other: _rsub(self.float() if self.dtype == torch.bool else self, other)
from models.trg_model.core.cfgs import parse_args
from models.trg_model import load_trg
from util.pkl import read_pkl
from tests.support.trgv2_official_layout import official_buffers, official_inputs, official_state_dict

torch.manual_seed(0)
init = read_pkl('data/init_vtx_cam.pkl')
model = load_trg(parse_args('models/trg_model/configs/trg_face_config.yaml'),
                 init['t_vtx_1220'], init['R_t'])
shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
own = {k: v.detach().numpy() for k, v in model.state_dict().items()}
for name, value in official_buffers('.').items():  # our reading of the buffers' definitions
    for key in (k for k in own if k.endswith(name)):
        assert np.allclose(own[key], value, atol=1e-5), (key, np.abs(own[key] - value).max())
model.load_state_dict(official_state_dict(shapes, '.'), strict=True)
model.eval()
x = official_inputs()
K_img = np.zeros((2, 4, 3), np.float32)
K_img[:, :3, :3] = np.transpose(x['K_crop'], (0, 2, 1))
with torch.no_grad():
    out, _ = model(torch.from_numpy(x['images']), torch.from_numpy(K_img),
                   torch.from_numpy(x['bbox_info']))
last, first = out['output'][-1], out['output'][1]
arrays = {k: last[k].numpy() for k in ('pred_pose', 'pred_R_t', 'pred_face_world', 'pred_face_cam')}
arrays['pred_lmk68'] = out['pred_lmk68'][0].numpy()
arrays['iter1_pred_pose'] = first['pred_pose'].numpy()
arrays['samp_pt'] = out['samp_pt'][0].numpy()
arrays['keys'] = np.array(list(shapes))
arrays['shapes'] = np.array(json.dumps({k: list(v) for k, v in shapes.items()}))
np.savez_compressed(sys.argv[1], **arrays)
print('official outputs: t =', last['pred_R_t'][:, 3, :3].numpy().round(4).tolist())
"""


def copy_official(source: Path, dest: Path) -> str:
    """The official code (models/, util/, data/, npy/) into ``dest``; returns its commit."""
    git = ["git", f"--git-dir={source}"] if (source / "objects").is_dir() else ["git", "-C", str(source)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    archive = subprocess.run([*git, "archive", "HEAD", "models", "util", "data", "npy"],
                             check=True, capture_output=True).stdout
    tar_path = dest / "official.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        files = [m for m in tar.getmembers() if not m.issym()]  # its .pth links point elsewhere
        tar.extractall(dest, members=files, filter="data")
    tar_path.unlink()
    return commit


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official", type=Path, required=True, help="official repository (checkout or bare git dir)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch, yacs, torchgeometry")
    ap.add_argument("--output", type=Path, default=REPO / "tests/fixtures/trgv2_official_reference.npz")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        commit = copy_official(args.official.resolve(), work)
        write_official_topology(work)  # the grid face replaces the ARKit files
        (work / "tests").symlink_to(REPO / "tests")
        out = args.output.resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([args.python, "-c", INNER, str(out)], cwd=work, check=True,
                       env={"PYTHONPATH": str(work), "PATH": "/usr/bin:/bin"})
    import numpy as np
    import torch

    data = dict(np.load(out))
    data["provenance"] = np.array(json.dumps({
        "official_repository": "github.com/asw91666/TRGv2_PR26_Released",
        "official_commit": commit, "torch": torch.__version__,
        "command": "python tools/trgv2_official_reference.py --official DIR --python PY"}))
    np.savez_compressed(out, **data)
    print(f"wrote {out} (official commit {commit[:7]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
