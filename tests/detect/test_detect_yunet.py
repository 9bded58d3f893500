"""YuNet through cv2.FaceDetectorYN: a tiny ONNX model with YuNet's inputs and outputs whose
outputs are constants decoding to one known box (no real weights can be downloaded here), and the
error paths (missing, empty, unreadable, wrong model) as one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from pyhpe.detect import make_detector

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper

SIDE = 64  # the constant outputs fit a 64x64 input (already a multiple of YuNet's 32)


def _tiny_yunet(path, names=("cls", "obj", "bbox", "kps")):
    """input (1, 3, 64, 64) -> cls_/obj_/bbox_/kps_{8,16,32} of shapes (1, cells, 1|1|4|10); the
    only positive cell is row 3, column 4 of stride 8 with offsets (0.5, 0.5) and log sizes
    (log 2, log 3): OpenCV decodes centre (4.5·8, 3.5·8) = (36, 28), size (16, 24), so the box is
    x, y, w, h = 28, 16, 16, 24. Outputs add 0·mean(input) so the graph depends on its input."""
    nodes = [helper.make_node("ReduceMean", ["input"], ["mean"], keepdims=1),
             helper.make_node("Reshape", ["mean", "shape3"], ["mean3"]),
             helper.make_node("Mul", ["mean3", "zero"], ["zero3"])]
    inits = [numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape3"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    outputs = []
    for kind, name, channels in zip(("cls", "obj", "bbox", "kps"), names, (1, 1, 4, 10)):
        for stride in (8, 16, 32):
            cols = SIDE // stride
            value = np.zeros((1, cols * cols, channels), np.float32)
            if stride == 8:
                cell = 3 * cols + 4
                if kind in ("cls", "obj"):
                    value[0, cell, 0] = 1.0
                elif kind == "bbox":
                    value[0, cell] = (0.5, 0.5, np.log(2.0), np.log(3.0))
            out = f"{name}_{stride}"
            inits.append(numpy_helper.from_array(value, f"const_{out}"))
            nodes.append(helper.make_node("Add", ["zero3", f"const_{out}"], [out]))
            outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "tiny_yunet", [helper.make_tensor_value_info(
        "input", TensorProto.FLOAT, [1, 3, SIDE, SIDE])], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_tiny_model_box_comes_out(tmp_path):
    det = make_detector("yunet", weights=_tiny_yunet(tmp_path / "tiny.onnx"), score_threshold=0.6)
    dets = det(np.zeros((SIDE, SIDE, 3), np.uint8))
    np.testing.assert_allclose(dets.boxes, [[28, 16, 44, 40]])
    np.testing.assert_allclose(dets.scores, [1.0])


def test_downscaled_frame_maps_back(tmp_path):
    det = make_detector("yunet", weights=_tiny_yunet(tmp_path / "tiny.onnx"), max_side=SIDE)
    dets = det(np.zeros((2 * SIDE, 2 * SIDE, 3), np.uint8))
    np.testing.assert_allclose(dets.boxes, [[56, 32, 88, 80]])
    assert len(make_detector("yunet", weights=tmp_path / "tiny.onnx", max_side=SIDE, min_face=40)(
        np.zeros((2 * SIDE, 2 * SIDE, 3), np.uint8))) == 0  # 32 px wide < min_face


def _one_line(excinfo, path) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and msg.startswith(str(path)) and "Traceback" not in msg
    return msg


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        make_detector("yunet", weights=tmp_path / "face_detection_yunet.onnx")
    assert "not found" in _one_line(e, tmp_path / "face_detection_yunet.onnx")


def test_empty_and_unreadable_files(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ValueError) as e:
        make_detector("yunet", weights=empty)
    assert "empty" in _one_line(e, empty)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf" * 20)
    with pytest.raises(ValueError) as e:
        make_detector("yunet", weights=junk)
    assert "not a YuNet ONNX model" in _one_line(e, junk)


def test_model_with_other_outputs(tmp_path):
    wrong = _tiny_yunet(tmp_path / "wrong.onnx", names=("score", "objness", "box", "landmarks"))
    with pytest.raises(ValueError) as e:
        make_detector("yunet", weights=wrong)
    assert "not a YuNet face detector" in _one_line(e, wrong)
