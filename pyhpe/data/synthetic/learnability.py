"""Can a small CNN read the pose from the rendered heads? A quick check, not a model.

    python -m pyhpe.data.synthetic.learnability --n-train 4000 --n-test 500 --size 64 --epochs 8

Trains a 4-layer CNN (CPU, one thread by default) to regress (pitch, yaw, roll) from synthetic
images cropped around each head's landmark box, then prints the mean absolute error per angle on
held-out images and, for reference, the error of always predicting the training mean.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch
from torch import nn

from pyhpe.data.synthetic.config import SynthConfig
from pyhpe.data.synthetic.render import render_index


def face_crop(image: np.ndarray, bbox: np.ndarray, out: int, margin: float = 0.4) -> np.ndarray:
    """Square crop around ``bbox`` grown by ``margin`` of its larger side, resized to ``out``."""
    x0, y0, x1, y1 = bbox
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = out / side
    warp = np.array([[scale, 0, out / 2 - scale * cx], [0, scale, out / 2 - scale * cy]], np.float32)
    return cv2.warpAffine(image, warp, (out, out), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def make_split(cfg: SynthConfig, seed: int, n: int, out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(images N x 3 x out x out float in [0, 1], angles N x 3 degrees) of stream ``seed``."""
    images, angles = [], []
    for i in range(n):
        s = render_index(cfg, seed, i)
        images.append(face_crop(s.image, s.bbox, out))
        angles.append(s.euler)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    return x, torch.tensor(np.stack(angles), dtype=torch.float32)


def small_cnn() -> nn.Module:
    """Four stride-2 conv blocks, global pooling, a linear head to 3 angles (scaled by 1/90)."""
    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, 2, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))
    return nn.Sequential(block(3, 24), block(24, 48), block(48, 96), block(96, 160),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(160, 3))


def run(n_train: int, n_test: int, size: int, epochs: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Train on stream ``seed``, test on stream ``seed + 1``; returns per-angle MAE (degrees)."""
    torch.manual_seed(seed)
    cfg = SynthConfig(size=224)
    x_tr, y_tr = make_split(cfg, seed, n_train, size)
    x_te, y_te = make_split(cfg, seed + 1, n_test, size)
    model = small_cnn()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * ((n_train + 63) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(n_train).split(64):
            loss = nn.functional.smooth_l1_loss(model(x_tr[idx]), y_tr[idx] / 90.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(b) for b in x_te.split(256)]) * 90.0
    return {
        "cnn_mae": (pred - y_te).abs().mean(0).numpy(),
        "mean_predictor_mae": (y_tr.mean(0) - y_te).abs().mean(0).numpy(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=4000)
    p.add_argument("--n-test", type=int, default=500)
    p.add_argument("--size", type=int, default=64, help="crop side fed to the CNN")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.time()
    res = run(args.n_train, args.n_test, args.size, args.epochs, args.seed)
    for key, mae in res.items():
        print(f"{key:20s} MAE pitch {mae[0]:5.1f}  yaw {mae[1]:5.1f}  roll {mae[2]:5.1f}  (degrees)")
    print(f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
