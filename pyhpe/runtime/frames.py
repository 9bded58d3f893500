"""Video frames in and out on worker threads, so decoding and encoding overlap the pose work
(OpenCV releases the GIL while it decodes and encodes)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

MAX_BAD_IN_A_ROW = 25  # consecutive unreadable frames after which a video is taken as ended


class VideoFrames:
    """Decoded RGB frames of a video, read ahead by a thread.

    Iterating yields ``(index, frame)``; ``frame`` is None for a frame OpenCV could not decode
    (counted in ``unreadable``; the run goes on). Raises ValueError if the video cannot be opened.
    """

    def __init__(self, path: str | Path, read_ahead: int = 8):
        self.path = Path(path)
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise ValueError(f"{self.path}: OpenCV cannot open this video")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else 25.0
        self.n_frames = max(int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)  # 0: unknown
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.unreadable = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, read_ahead))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="pyhpe-decode", daemon=True)

    def _read(self) -> None:
        index, bad_in_a_row = 0, 0
        try:
            while not self._stop.is_set():
                ok, bgr = self._cap.read()
                if ok and bgr is not None and bgr.ndim == 3:
                    bad_in_a_row = 0
                    self._put((index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
                else:
                    # a failed read is the end, unless the container says more frames follow
                    if not self.n_frames or index >= self.n_frames - 1 or bad_in_a_row >= MAX_BAD_IN_A_ROW:
                        break
                    bad_in_a_row += 1
                    self._put((index, None))
                index += 1
        finally:
            self._put(None)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[tuple[int, np.ndarray | None]]:
        self._thread.start()
        try:
            while (item := self._queue.get()) is not None:
                index, frame = item
                if frame is None:
                    self.unreadable += 1
                yield index, frame
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._cap.release()


class VideoWriter:
    """An MP4 (mp4v) written by a thread from RGB frames; :meth:`close` waits for the last one."""

    def __init__(self, path: str | Path, fps: float, width: int, height: int, queue_size: int = 8):
        self.path = Path(path)
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        if not self._writer.isOpened():
            raise ValueError(f"{self.path}: OpenCV cannot write an mp4v video here")
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._write, name="pyhpe-encode", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        while (frame := self._queue.get()) is not None:
            self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def write(self, frame_rgb: np.ndarray) -> None:
        self._queue.put(frame_rgb)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._writer.release()


def write_video(path: str | Path, frames_rgb, fps: float = 25.0) -> Path:
    """Write a sequence of RGB frames as an MP4 (:class:`VideoWriter`); returns the path."""
    frames_rgb = list(frames_rgb)
    if not frames_rgb:
        raise ValueError("write_video needs at least one frame")
    h, w = frames_rgb[0].shape[:2]
    writer = VideoWriter(path, fps, w, h)
    try:
        for frame in frames_rgb:
            writer.write(frame)
    finally:
        writer.close()
    return writer.path
