r"""The accelerator plan table: the composite LOSO sweep (68 folds) compiled ahead of
time for GPU nodes and TPU slices, with ``python -m faceslueth_jax.plan``.

  python bench/plan_table.py run [--cells compact-1-gpu:h100:1,...]   # compile, one at a time
  python bench/plan_table.py table                                   # Markdown from the JSONs

``run`` plans each cell (preset x seeds x target) in a subprocess, writing
``bench/runs/plans/<preset>_s<seeds>_<target>.json`` and its log, and skips cells whose
JSON is there (so an interrupted run goes on). GPU cells need jax's CUDA plugin
(``pip install "jax[cuda12]==0.10.2"``, or its wheels on PYTHONPATH), TPU cells libtpu
(``pip install -r requirements-tpu.txt``). ``table`` prints the README's table.
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


def cell_name(preset: str, seeds: int, target: str) -> str:
    return f"{preset}_s{seeds}_{target.replace(':', '-')}"


def command(preset: str, seeds: int, target: str) -> list[str]:
    return [sys.executable, "-m", "faceslueth_jax.plan",
            f"--config=configs/loso_composite.py:{preset}", f"--target={target}",
            f"--config.protocol.seeds={seeds}",
            f"--json={OUT / (cell_name(preset, seeds, target) + '.json')}"]


def run(cells) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for preset, seeds, target in cells:
        name = cell_name(preset, seeds, target)
        if (OUT / f"{name}.json").exists():
            continue
        started = time.time()
        print(f"{time.strftime('%H:%M:%S')} {name} ...", flush=True)
        with open(OUT / f"{name}.log", "w") as log:
            result = subprocess.run(command(preset, seeds, target), cwd=REPO, stdout=log,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("run", "table"))
    parser.add_argument("--cells", default="", help="preset-seeds-target,... (default all)")
    args = parser.parse_args()
    if args.what == "table":
        print(table())
        return
    cells = CELLS
    if args.cells:
        cells = [(c.split("-", 2)[0], int(c.split("-", 2)[1]), c.split("-", 2)[2])
                 for c in args.cells.split(",")]
    run(cells)


if __name__ == "__main__":
    main()
