"""``pyhpe convert trgv2-official``: the released TRGv2 checkpoint → a pyhpe model file."""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path

DESCRIPTION = """\
Convert the official TRGv2 checkpoint (github.com/asw91666/TRGv2_PR26_Released: the
state_dict.bin its training code saves) into a pyhpe model file of trgv2_resnet18 in its
official form (third-deconvolution heatmap head, the code's translation and box-information
scalings, its 6D layout converted to ours, the ARKit topology). --data-dir is the official
repository (or a folder with its files): data/init_vtx_cam.pkl, data/arkit_subsample.pkl,
data/triangles.npy, npy/kpt_ind.npy, and flip_index.npy if you have it (else the mirror
permutation is derived from data/arkit_avg_face.pkl). Pickles are read by a restricted
unpickler (arrays and containers only); the checkpoint with torch.load(weights_only=True).

The output loads with pyhpe.models.load(OUT) and runs as model(images, K_crop, box); its card
asks for the official crop convention (K_crop and warp as the official code computes them).

example:
  pyhpe convert trgv2-official --checkpoint checkpoint-30/state_dict.bin \\
      --data-dir TRGv2_PR26_Released --out trgv2_official.safetensors
  pyhpe eval --checkpoint trgv2_official.safetensors --source arkitface:DATA/ARKitFace ...
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="STATE_DICT",
                        help="the official checkpoint (state_dict.bin)")
    parser.add_argument("--data-dir", required=True, metavar="DIR",
                        help="the official repository root (data/, npy/) or a folder with its files")
    parser.add_argument("--out", required=True, metavar="OUT",
                        help="OUT.safetensors (its .json card beside it), or a folder for "
                             "model.safetensors + model.json")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")


def output_path(out: str | os.PathLike) -> Path:
    """``x.safetensors`` as given; anything else is a folder holding ``model.safetensors``."""
    out = Path(out)
    return out if out.suffix == ".safetensors" else out / "model.safetensors"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(args: argparse.Namespace) -> int:
    from pyhpe.models.io import sidecar_path
    from pyhpe.models.trg.convert import convert_official

    target = output_path(args.out)
    if not args.force and (target.exists() or sidecar_path(target).exists()):
        raise SystemExit(f"{target} exists (use --force to overwrite)")
    checkpoint = Path(args.checkpoint)
    model, card, report = convert_official(checkpoint, args.data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    extra = {"converted_from": {"checkpoint": checkpoint.name, "sha256": _sha256(checkpoint),
                                "flip": report["flip"], "command": "pyhpe convert trgv2-official"}}
    _save_atomically(model, target, card, extra)
    print(f"wrote {target} and {sidecar_path(target).name}: {card.model} (form=official, "
          f"{report['vertices']} vertices, {report['subsampled']} subsampled; flip permutation: "
          f"{report['flip']})")
    return 0


def _save_atomically(model, target: Path, card, extra: dict) -> None:
    """Both files or neither: written in a temporary folder beside ``target``, then moved."""
    from pyhpe.models.io import save_model, sidecar_path

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as tmp:
        staged = save_model(model, Path(tmp) / target.name, card, extra=extra)
        os.replace(sidecar_path(staged), sidecar_path(target))
        os.replace(staged, target)
