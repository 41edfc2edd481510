"""Logits of the real PyTorch reference for weights anyone can regenerate without torch.

``tests/data/reference_mmnet_logits.npz`` holds the reference MMNet's state_dict
layout (names and shapes), its eval-mode logits and SOA angles for the weights
``state_dict(layout, SEED)`` draws with numpy and the batch ``inputs(SEED)``.
CI (no torch, no checkout) rebuilds those weights, converts them and compares.
Regenerate (torch and a checkout needed):

  FACESLEUTH_REFERENCE_DIR=/path/to/FaceSleuth python tests/reference_golden.py
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np

GOLDEN = pathlib.Path(__file__).parent / "data" / "reference_mmnet_logits.npz"
SEED = 0
ANGLES_DEG = (30.0, 67.0, 104.0, 141.0)  # one per SOA stage, away from the 72-degree start


def state_dict(layout: dict, seed: int = SEED) -> dict:
    """Float32 arrays for every name -> shape of ``layout``, scaled so activations
    stay O(1): conv/linear weights N(0, 1/fan_in), biases N(0, 0.01^2), norm scales
    U(0.5, 1.5), shifts and running means N(0, 0.1^2), running variances U(0.5, 1.5),
    Swin bias tables N(0, 0.02^2), SOA vectors at ``ANGLES_DEG`` (lengths 1..4)."""
    rng = np.random.default_rng(seed)
    out, stage = {}, 0
    for name, shape in layout.items():
        shape = tuple(shape)
        if name.endswith("num_batches_tracked"):
            out[name] = np.zeros(shape, np.int64)
        elif name.endswith("relative_position_index"):
            out[name] = np.zeros(shape, np.int64)  # a buffer the converter ignores
        elif name.endswith("pool.vec"):
            t = math.radians(ANGLES_DEG[stage])
            out[name] = np.array([math.cos(t), math.sin(t)], np.float32) * (1 + stage)
            stage += 1
        elif name.endswith("running_var"):
            out[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif name.endswith("running_mean"):
            out[name] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
        elif name.endswith("relative_position_bias_table"):
            out[name] = (0.02 * rng.standard_normal(shape)).astype(np.float32)
        elif len(shape) == 1 and name.endswith(".weight"):  # BatchNorm / LayerNorm scale
            out[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif len(shape) == 1:
            out[name] = ((0.01 if "fc" in name or "qkv" in name or "proj" in name else 0.1)
                         * rng.standard_normal(shape)).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            out[name] = (rng.standard_normal(shape, np.float32) / math.sqrt(fan_in)).astype(np.float32)
    return out


def inputs(seed: int = SEED):
    """(onset, apex, au) NCHW float32, a batch of 3."""
    rng = np.random.default_rng(seed + 1)
    onset = rng.standard_normal((3, 3, 224, 224)).astype(np.float32)
    apex = onset + 0.3 * rng.standard_normal((3, 3, 224, 224)).astype(np.float32)
    au = (rng.random((3, 21)) < 0.15).astype(np.float32)
    return onset, apex, au


def converted():
    """(the converted model, its variables, the golden batch as NHWC views, the golden
    file's arrays): the paper preset built from the reference's weights, ready to run."""
    from faceslueth_jax.reference import convert
    golden = np.load(GOLDEN)
    variables, model_config, num_classes = convert.convert_state_dict(
        state_dict(json.loads(str(golden["layout"]))))
    onset, apex, au = inputs()
    nhwc = lambda x: np.transpose(x, (0, 2, 3, 1))  # noqa: E731
    views = {"onset": nhwc(onset), "apex": nhwc(apex), "au": au}
    from faceslueth_jax.models import registry
    return registry.from_config(model_config, num_classes), variables, views, golden


def main() -> None:
    from faceslueth_jax.reference import checkout as reference_checkout

    torch = reference_checkout.torch()
    net = reference_checkout.build(randomise_batch_norm=False).eval()
    layout = {k: list(v.shape) for k, v in net.state_dict().items()}
    weights = {k: torch.from_numpy(v) for k, v in state_dict(layout).items()
               if not k.endswith("relative_position_index")}  # keep the real buffers
    net.load_state_dict(weights, strict=False)
    with torch.no_grad():
        logits = net(*(torch.from_numpy(x) for x in inputs())).numpy()
    path = reference_checkout.checkout()
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, layout=json.dumps(layout), logits=logits,
                        angles_rad=np.array(reference_checkout.soa_angles(net), np.float32),
                        source=f"Svardfox/FaceSleuth {reference_checkout.commit(path)}, "
                               f"CASME2_5.py MMNet, torch {torch.__version__}")
    print(f"wrote {GOLDEN}: logits {logits.shape}, max |logit| {np.abs(logits).max():.3f}")


if __name__ == "__main__":
    main()
