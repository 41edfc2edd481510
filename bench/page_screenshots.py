"""A run's page and its TensorBoard, opened in a real browser (headless Chromium):
the page loads with no console errors and its screenshot is not blank.

  python bench/page_screenshots.py RUN_DIR [--out=docs/figures] [--tensorboard=tensorboard]

Needs Debian's ``chromium`` (``apt-get install chromium``); ``--tensorboard`` names a
TensorBoard executable (``pip install tensorboard``, best in its own virtual
environment) to also serve RUN_DIR/tensorboard on localhost and photograph its
scalars. Writes run_page.png (and tensorboard.png) under --out and prints what it
checked; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

CHROMIUM = ("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", "--enable-logging=stderr", "--v=0")


def screenshot(url: str, out: pathlib.Path, size=(1200, 1800), wait_ms: int = 0) -> list:
    """Photograph ``url`` into ``out``; returns the page's console errors."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([*CHROMIUM, f"--user-data-dir={profile}",
                               f"--window-size={size[0]},{size[1]}", f"--screenshot={out}",
                               *([f"--virtual-time-budget={wait_ms}"] if wait_ms else []), url],
                              capture_output=True, text=True, timeout=180)
    if proc.returncode != 0 or not out.is_file():
        raise SystemExit(f"error: chromium could not open {url}: {proc.stderr[-500:]}")
    return [line for line in proc.stderr.splitlines()
            if "CONSOLE" in line and re.search(r"error|uncaught", line, re.I)]


def not_blank(path: pathlib.Path) -> dict:
    """Pixel facts of a screenshot: a blank page is one colour."""
    image = cv2.imread(str(path))
    colours = len(np.unique(image.reshape(-1, 3) // 16, axis=0))
    dark = float((image.mean(-1) < 128).mean())
    return {"size": image.shape[1::-1], "std": float(image.std()), "colours": colours,
            "dark_fraction": round(dark, 4), "ok": image.std() > 10 and colours > 20 and dark > 0.002}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("docs/figures"))
    parser.add_argument("--tensorboard", default=None)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    failed = False
    page = args.out / "run_page.png"
    errors = screenshot((args.run_dir / "index.html").resolve().as_uri(), page)
    facts = not_blank(page)
    print(f"index.html: console errors {len(errors)}, screenshot {facts}")
    failed |= bool(errors) or not facts["ok"]
    if args.tensorboard:
        port = _free_port()
        server = subprocess.Popen([args.tensorboard, f"--logdir={args.run_dir / 'tensorboard'}",
                                   f"--port={port}", "--host=127.0.0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(8)  # the server reads the event files
            board = args.out / "tensorboard.png"
            screenshot(f"http://127.0.0.1:{port}/#timeseries", board, size=(1400, 1000),
                       wait_ms=15000)
            facts = not_blank(board)
            print(f"TensorBoard: screenshot {facts}")
            failed |= not facts["ok"]
        finally:
            server.terminate()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
