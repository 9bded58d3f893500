"""The quad rasteriser against closed forms: areas, painter's order, affine attribute maps."""

from __future__ import annotations

import numpy as np

from pyhpe.data.synthetic.raster import draw_ids, quad_planes, signed_areas

# Two unit-ish squares in image coordinates (x right, y down); vertex order v0 v1 v2 v3 goes
# clockwise on screen = counter-clockwise in a y-up frame, which is "facing the camera".
XY = np.array([[2, 2], [12, 2], [12, 12], [2, 12],       # square A, 10 x 10
               [6, 6], [16, 6], [16, 16], [6, 16]], float)  # square B, overlaps A
QUADS = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])


def test_signed_area_of_squares():
    np.testing.assert_allclose(signed_areas(XY, QUADS), [100.0, 100.0])
    np.testing.assert_allclose(signed_areas(XY, QUADS[:, ::-1]), [-100.0, -100.0])


def test_later_quads_overwrite_earlier_ones():
    ids = draw_ids(XY, QUADS, np.array([0, 1]), (20, 20))
    assert ids[4, 4] == 0 and ids[14, 14] == 1 and ids[9, 9] == 1 and ids[0, 0] == -1
    ids = draw_ids(XY, QUADS, np.array([1, 0]), (20, 20))
    assert ids[9, 9] == 0  # drawn last, so on top


def test_planes_reproduce_an_affine_attribute_exactly():
    # attribute = 3x - 2y + 5 is affine, so both triangles of each quad must give it everywhere
    attrs = np.column_stack([3 * XY[:, 0] - 2 * XY[:, 1] + 5, np.ones(len(XY))])
    planes = quad_planes(XY, attrs, QUADS)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(2, 12, 50), rng.uniform(2, 12, 50)
    got = planes.evaluate(np.zeros(50, int), x, y)
    np.testing.assert_allclose(got[:, 0], 3 * x - 2 * y + 5, rtol=1e-5)
    np.testing.assert_allclose(got[:, 1], 1.0, rtol=1e-6)


def test_each_triangle_interpolates_its_own_vertices():
    # a non-affine attribute (1 at v1 only): the diagonal v0-v2 splits the quad into two planes
    attrs = np.zeros((8, 1))
    attrs[1] = 1.0
    planes = quad_planes(XY, attrs, QUADS)
    got = planes.evaluate(np.zeros(3, int), np.array([11.0, 3.0, 7.0]), np.array([3.0, 11.0, 7.0]))
    np.testing.assert_allclose(got[:, 0], [0.8, 0.0, 0.0], atol=1e-6)  # near v1 / in the other half / on the diagonal


def test_degenerate_triangle_borrows_its_sibling():
    xy = np.array([[0, 0], [0, 0], [10, 10], [0, 10]], float)  # v0 == v1: triangle (v0, v1, v2) has no area
    attrs = xy[:, :1] * 2.0  # 2x
    planes = quad_planes(xy, attrs, np.array([[0, 1, 2, 3]]))
    got = planes.evaluate(np.zeros(2, int), np.array([8.0, 2.0]), np.array([9.0, 8.0]))
    np.testing.assert_allclose(got[:, 0], [16.0, 4.0], rtol=1e-5)


def test_region_evaluation_matches_pointwise_and_zero_off_the_quads():
    attrs = np.column_stack([XY[:, 0] * 0.5 + XY[:, 1], np.arange(8.0)])
    planes = quad_planes(XY, attrs, QUADS)
    ids = draw_ids(XY, QUADS, np.array([0, 1]), (20, 20))
    block = ids[1:18, 3:19]
    region = planes.evaluate_region(block, 3, 1)
    ys, xs = np.nonzero(block >= 0)
    want = planes.evaluate(block[ys, xs], xs + 3, ys + 1)
    for k in range(2):
        np.testing.assert_array_equal(region[k][ys, xs], want[:, k])
        assert np.all(region[k][block < 0] == 0)
    np.testing.assert_array_equal(planes.evaluate_one(block[ys, xs], xs + 3, ys + 1, 1), want[:, 1])
