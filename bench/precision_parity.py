r"""What the matmul precision and bf16 compute do to parity with the PyTorch reference.

  python bench/precision_parity.py [--json bench/figures/precision_parity.json]

The paper preset with the reference SOA, converted from the reference MMNet's weights
(``tests/reference_golden.py``: weights numpy regenerates, logits the real reference
computed), run in eval mode on the golden batch under ``train.precision`` 'highest'
and 'default' and under ``train.compute_dtype='bfloat16'`` (``fold_step.apply_in``):
the largest absolute logit error against the reference, and whether the predicted
class changes. On CPU 'default' is 'highest' (XLA:CPU computes f32 dots in f32);
on TPU 'default' runs f32 dots as one bf16 pass and on Ampere/Hopper GPUs as TF32
(10-bit mantissa), so expect errors between the f32 and the bf16 rows there.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib

import jax
import numpy as np

from faceslueth_jax.train import fold_step

REPO = pathlib.Path(__file__).resolve().parents[1]


def golden_module():
    spec = importlib.util.spec_from_file_location("reference_golden",
                                                  REPO / "tests" / "reference_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    model, variables, views, golden = golden_module().converted()
    want = golden["logits"]
    rows = []
    for name, precision, dtype in (("f32, precision highest", "highest", "float32"),
                                   ("f32, precision default", "default", "float32"),
                                   ("bf16 compute, f32 parameters", "highest", "bfloat16")):
        with jax.default_matmul_precision(precision):
            got = np.asarray(jax.jit(lambda v, x: fold_step.apply_in(
                model, v, x, dtype, train=False))(variables, views))
        rows.append({"setting": name, "max_abs_logit_error": float(np.abs(got - want).max()),
                     "logit_scale": float(np.abs(want).max()),
                     "predictions_changed": int((got.argmax(-1) != want.argmax(-1)).sum()),
                     "samples": int(want.shape[0])})
        print(f"{name:32s} max |logit error| {rows[-1]['max_abs_logit_error']:.2e} "
              f"(logits up to {rows[-1]['logit_scale']:.1f}); predictions changed "
              f"{rows[-1]['predictions_changed']}/{rows[-1]['samples']}")
    if args.json:
        from faceslueth_jax import atomic_files
        atomic_files.write_json(args.json, {"backend": jax.default_backend(), "rows": rows})


if __name__ == "__main__":
    main()
