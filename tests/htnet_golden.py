"""Logits of the PyTorch reference HTNet for weights anyone can regenerate without torch.

``tests/data/htnet_reference_logits.npz`` holds, for each small network in
``CASES``, the reference's state_dict layout (names and shapes) and its logits
for the weights ``state_dict(layout, seed)`` draws with numpy on the batch
``inputs(case)``. tests/test_htnet.py (no torch, no checkout) rebuilds those
weights, converts them with ``htnet.params_from_torch`` and compares.

Two geometries: 28x28 (the paper's, where every block is a single token, so the
attention weights are all 1) and 56x56 (blocks of 2x2 tokens: real attention
and position embedding). heads=3 with dim=16 gives heads x dim_head = 15 < 16,
the reference's 255 < 256 arithmetic.

Regenerate (needs torch and einops, neither in requirements.txt, and a checkout
of github.com/wangzhifengharrison/HTNet, a work tree or a bare git directory):

  HTNET_REFERENCE_DIR=/path/to/HTNet python tests/htnet_golden.py
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pathlib
import subprocess
import tempfile

import numpy as np

GOLDEN = pathlib.Path(__file__).parent / "data" / "htnet_reference_logits.npz"
ENV = "HTNET_REFERENCE_DIR"
SEED = 0
# name -> keyword arguments of the reference HTNet (and of ours, less channels)
CASES = {
    "s28": dict(image_size=28, patch_size=7, dim=16, heads=3, num_hierarchies=3,
                block_repeats=(1, 1, 2), mlp_mult=4, num_classes=3),
    "s56": dict(image_size=56, patch_size=7, dim=16, heads=3, num_hierarchies=3,
                block_repeats=(1, 1, 2), mlp_mult=4, num_classes=3),
}
BATCH = 3


def state_dict(layout: dict, seed: int = SEED) -> dict:
    """Float32 arrays for every name -> shape of ``layout``: conv/linear weights
    N(0, 1/fan_in), biases N(0, 0.1^2), LayerNorm g U(0.5, 1.5) and b N(0, 0.1^2),
    pos_emb N(0, 1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in layout.items():
        shape = tuple(shape)
        if name.endswith("pos_emb"):
            a = rng.standard_normal(shape)
        elif name.endswith(".g"):
            a = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(".b") or name.endswith(".bias"):
            a = 0.1 * rng.standard_normal(shape)
        else:
            a = rng.standard_normal(shape) / math.sqrt(int(np.prod(shape[1:])))
        out[name] = a.astype(np.float32)
    return out


def inputs(case: str, seed: int = SEED) -> np.ndarray:
    """(B, 3, S, S) float32 pixel values 0..255, NCHW as the reference reads them."""
    s = CASES[case]["image_size"]
    rng = np.random.default_rng(seed + 1)
    return rng.integers(0, 256, (BATCH, 3, s, s)).astype(np.float32)


def reference_model_source(root: pathlib.Path) -> str:
    """Model.py of a work tree, or of HEAD of a (bare) git directory."""
    if (root / "Model.py").is_file():
        return (root / "Model.py").read_text()
    return subprocess.run(["git", "-C", str(root), "show", "HEAD:Model.py"], check=True,
                          capture_output=True, text=True).stdout


def main() -> None:
    import torch

    root = pathlib.Path(os.environ[ENV])
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp, "htnet_reference_model.py")
        path.write_text(reference_model_source(root))
        spec = importlib.util.spec_from_file_location("htnet_reference_model", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    saved = {}
    for case, kwargs in CASES.items():
        net = module.HTNet(**kwargs).eval()
        layout = {k: list(v.shape) for k, v in net.state_dict().items()}
        net.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict(layout).items()})
        with torch.no_grad():
            logits = net(torch.from_numpy(inputs(case))).numpy()
        saved[f"{case}_layout"] = json.dumps(layout)
        saved[f"{case}_logits"] = logits
        print(f"{case}: logits {logits.shape}, max |logit| {np.abs(logits).max():.3f}")
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                                capture_output=True, text=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        commit = "unknown commit"
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, source=f"wangzhifengharrison/HTNet {commit}, Model.py HTNet, "
                                       f"torch {torch.__version__}", **saved)
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
