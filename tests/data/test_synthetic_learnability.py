"""The learnability check's pieces: the face crop and a tiny end-to-end run."""

from __future__ import annotations

import numpy as np

from pyhpe.data.synthetic.learnability import face_crop, run


def test_face_crop_centres_the_box():
    image = np.zeros((100, 120, 3), np.uint8)
    image[40:60, 70:90] = 255  # a 20 x 20 box centred at (79.5, 49.5)
    crop = face_crop(image, np.array([70.0, 40.0, 89.0, 59.0]), out=38, margin=0.5)
    ys, xs = np.nonzero(crop[..., 0] > 127)
    assert crop.shape == (38, 38, 3)
    assert abs(xs.mean() - 18.5) < 1.0 and abs(ys.mean() - 18.5) < 1.0
    assert 16 <= xs.max() - xs.min() + 1 <= 22  # the box is half the crop side


def test_tiny_run_gives_finite_errors():
    res = run(n_train=48, n_test=16, size=32, epochs=1)
    for key in ("cnn_mae", "mean_predictor_mae"):
        assert res[key].shape == (3,) and np.isfinite(res[key]).all()
