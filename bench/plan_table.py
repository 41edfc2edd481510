r"""The accelerator plan table: the composite LOSO sweep (68 folds) compiled ahead of
time for GPU nodes and TPU slices, with ``python -m faceslueth_jax.plan``.

  python bench/plan_table.py run [--cells compact-1-gpu:h100:1,...]   # compile, one at a time
  python bench/plan_table.py table                                   # Markdown from the JSONs

A cell ending in ``-bf16views`` keeps the training views on device in bfloat16; the
second table compares those with float32 views.

``run`` plans each cell (preset x seeds x target) in a subprocess, writing
``bench/runs/plans/<preset>_s<seeds>_<target>.json`` and its log, and skips cells whose
JSON is there (so an interrupted run goes on). GPU cells need jax's CUDA plugin
(``pip install "jax[cuda12]==0.10.2"``, or its wheels on PYTHONPATH), TPU cells libtpu
(``pip install -r requirements-tpu.txt``). ``table`` prints the table in docs/accelerators.md.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "runs" / "plans"
TARGETS = ("gpu:h100:1", "gpu:h100:8", "gpu:h200:8", "tpu:v5e:4x4", "tpu:v5e:8x8",
           "tpu:v5p:2x2x4")
TARGET_NAMES = {"gpu:h100:1": "1 H100", "gpu:h100:8": "8 H100 (1 node)",
                "gpu:h200:8": "8 H200 (1 node)", "tpu:v5e:4x4": "v5e-16 (4 hosts)",
                "tpu:v5e:8x8": "v5e-64 (16 hosts)", "tpu:v5p:2x2x4": "v5p, 16 chips (4 hosts)"}
CELLS = [(preset, seeds, target) for seeds in (1, 3) for preset in ("compact", "paper")
         for target in TARGETS]
# Cells planned twice, with the training views on device in float32 and in bfloat16.
VIEWS_CELLS = [("compact", 1, "gpu:h100:1"), ("paper", 1, "gpu:h100:8")]
BF16_VIEWS = "bf16views"


def cell_name(preset: str, seeds: int, target: str, variant: str = "") -> str:
    return f"{preset}_s{seeds}_{target.replace(':', '-')}" + (f"_{variant}" if variant else "")


def command(preset: str, seeds: int, target: str, variant: str = "") -> list[str]:
    views = ["--config.train.device_views=bfloat16"] if variant == BF16_VIEWS else []
    return [sys.executable, "-m", "faceslueth_jax.plan",
            f"--config=configs/loso_composite.py:{preset}", f"--target={target}",
            f"--config.protocol.seeds={seeds}", *views,
            f"--json={OUT / (cell_name(preset, seeds, target, variant) + '.json')}"]


def run(cells) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for preset, seeds, target, variant in cells:
        name = cell_name(preset, seeds, target, variant)
        if (OUT / f"{name}.json").exists():
            continue
        started = time.time()
        print(f"{time.strftime('%H:%M:%S')} {name} ...", flush=True)
        with open(OUT / f"{name}.log", "w") as log:
            result = subprocess.run(command(preset, seeds, target, variant), cwd=REPO, stdout=log,
                                    stderr=subprocess.STDOUT)
        print(f"  exit {result.returncode} after {time.time() - started:.0f} s", flush=True)


def table() -> str:
    rows = ["| preset | seeds (models) | target | fits | per-chip GiB (of budget) | folds per "
            "chip x chunks | compile s | est. epoch s | est. sweep (20 epochs) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for preset, seeds, target in CELLS:
        path = OUT / f"{cell_name(preset, seeds, target)}.json"
        log = OUT / f"{cell_name(preset, seeds, target)}.log"
        name = TARGET_NAMES[target]
        if not path.exists():
            why = "not compiled in this table's session"
            if log.exists():
                errors = [line for line in log.read_text().splitlines()
                          if line.startswith("error:")]
                why = errors[-1][:160] if errors else why
            rows.append(f"| {preset} | {seeds} ({68 * seeds}) | {name} | | {why} | | | | |")
            continue
        p = json.loads(path.read_text())
        chip, r = p["per_chip"], p["roofline"] or {}
        rows.append(
            f"| {preset} | {seeds} ({p['data']['models']}) | {name} | "
            f"{'yes' if chip['fits'] else 'NO'} | {chip['total_bytes'] / 2**30:.2f} "
            f"({chip['budget_bytes'] / 2**30:.1f}) | {p['folds_per_chip']} x {p['chunks']} | "
            f"{p['compile_seconds']:.0f} | {r.get('epoch_seconds', float('nan')):.2g} "
            f"({r.get('bound', '?')}) | {r.get('sweep_seconds', float('nan')):.2g} s |")
    return "\n".join(rows)


def views_table() -> str:
    """Per-chip bytes with the views on device in float32 and in bfloat16."""
    rows = ["| preset | target | views | argument GiB | per-chip GiB | folds per chip x chunks |",
            "|---|---|---|---|---|---|"]
    for preset, seeds, target in VIEWS_CELLS:
        for variant, views in (("", "float32"), (BF16_VIEWS, "bfloat16")):
            path = OUT / f"{cell_name(preset, seeds, target, variant)}.json"
            if not path.exists():
                rows.append(f"| {preset} | {TARGET_NAMES[target]} | {views} | not compiled "
                            "in this table's session | | |")
                continue
            p = json.loads(path.read_text())
            chip = p["per_chip"]
            rows.append(f"| {preset} | {TARGET_NAMES[target]} | {views} | "
                        f"{chip['argument_bytes'] / 2**30:.3f} | "
                        f"{chip['total_bytes'] / 2**30:.2f} | "
                        f"{p['folds_per_chip']} x {p['chunks']} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("run", "table"))
    parser.add_argument("--cells", default="",
                        help="preset-seeds-target[-bf16views],... (default all)")
    args = parser.parse_args()
    if args.what == "table":
        print(table())
        print()
        print(views_table())
        return
    cells = ([(*cell, "") for cell in CELLS]
             + [(*cell, variant) for cell in VIEWS_CELLS for variant in ("", BF16_VIEWS)])
    if args.cells:
        cells = []
        for text in args.cells.split(","):
            preset, seeds, rest = text.split("-", 2)
            target, _, variant = rest.partition("-")
            cells.append((preset, int(seeds), target, variant))
    run(cells)


if __name__ == "__main__":
    main()
