"""Reading one video frame from disk as grey or RGB uint8, refusing damaged files.

OpenCV decodes a truncated JPEG silently (it fills the missing rows with grey),
so the container is checked first: a JPEG must end with its EOI marker
(FF D9), a PNG with its IEND chunk, a BMP must be as long as its header says.
"""

from __future__ import annotations

import pathlib
import struct

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class FrameError(ValueError):
    """A frame file is missing, unreadable or truncated; the message names it."""


def _truncation(data: bytes) -> str | None:
    """Why ``data`` is a truncated image container, or None when it looks whole."""
    if data[:2] == b"\xff\xd8":
        return None if b"\xff\xd9" in data[-16:] else "truncated JPEG (no end-of-image marker)"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return None if b"IEND" in data[-12:] else "truncated PNG (no IEND chunk)"
    if data[:2] == b"BM" and len(data) >= 6:
        declared = struct.unpack("<I", data[2:6])[0]
        return None if len(data) >= declared else (
            f"truncated BMP ({len(data)} of {declared} bytes)")
    return None


def read_grey(path: pathlib.Path) -> np.ndarray:
    """(H, W) uint8 grey frame at ``path``; raises FrameError naming the file."""
    return read_frame(path, color=False)


def read_frame(path: pathlib.Path, color: bool) -> np.ndarray:
    """(H, W) uint8 grey or, with ``color``, (H, W, 3) uint8 RGB frame at ``path``;
    raises FrameError naming the file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FrameError(f"missing frame file {path}")
    data = path.read_bytes()
    why = _truncation(data)
    if why:
        raise FrameError(f"{why}: {path}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8),
                         cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FrameError(f"unreadable or corrupt image {path}")
    return np.ascontiguousarray(image[..., ::-1]) if color else image  # OpenCV decodes BGR


def frame_number(path: pathlib.Path) -> int | None:
    """The trailing integer of a frame's file name (img46.jpg -> 46,
    006_05562.jpg -> 5562, image000123.bmp -> 123), None when it has none."""
    digits = _digits(path)
    return int(digits) if digits else None


def _digits(path: pathlib.Path) -> str:
    """The trailing digits of a file name's stem ('' when it has none)."""
    stem = pathlib.Path(path).stem
    return stem[len(stem.rstrip("0123456789")):]


def expected_path(numbered: dict[int, pathlib.Path], number: int) -> pathlib.Path | None:
    """The file frame ``number`` would be, named as the frames in ``numbered`` are:
    the folder, prefix and suffix of the nearest numbered frame, the number
    zero-padded to its width when the names pad (006_05562.jpg -> 006_05565.jpg,
    image000001.bmp -> image000004.bmp, reg_img46.jpg -> reg_img48.jpg); None when
    ``numbered`` is empty."""
    if not numbered:
        return None
    near = pathlib.Path(numbered[min(numbered, key=lambda n: (abs(n - number), n))])
    digits = _digits(near)
    padded = any(len(d) > 1 and d.startswith("0") for d in map(_digits, numbered.values()))
    text = f"{number:0{len(digits)}d}" if padded else str(number)
    return near.with_name(f"{near.stem[:len(near.stem) - len(digits)]}{text}{near.suffix}")


def numbered_frames(folder: pathlib.Path, prefix: str = "") -> dict[int, pathlib.Path]:
    """{frame number: path} for the image files in ``folder`` whose names start
    with ``prefix`` and end in a number."""
    frames = {}
    for path in pathlib.Path(folder).iterdir():
        if path.suffix.lower() in IMAGE_SUFFIXES and path.name.startswith(prefix):
            number = frame_number(path)
            if number is not None:
                frames[number] = path
    return frames
