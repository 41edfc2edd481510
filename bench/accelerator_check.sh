#!/usr/bin/env bash
# One-shot accelerator check: the accelerator figures, as ratios from one run,
# written to one JSON file. At most ~8 minutes on one GPU; `--quick` runs the same
# steps at toy sizes on a CPU (how it is tested here).
#
#   bash bench/accelerator_check.sh [--quick] [--out DIR] [--manual_dir HTNET_RELEASE]
#                                   [--reference_dir FACESLEUTH_CHECKOUT]
#
# 1. sweep throughput, K folds together vs in turn, K = 1, 8, 68 (quick: 1, 2), compact and
#    paper presets (quick: compact only)                       -> DIR/sweep_<preset>.json
# 2. the paper preset's training step against the PyTorch reference at batch 50, when torch
#    imports and --reference_dir names a FaceSleuth checkout     -> DIR/vs_reference.json
# 3. one epoch of the paper-preset composite LOSO, all 68 folds placed by the memory
#    planner (needs --manual_dir; quick: the compact preset on the built-in synthetic data)
#                                                              -> DIR/epoch_run/metrics.json
# Then DIR/accelerator_check.json gathers every figure with the machine and the commands.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; out=/tmp/accelerator_check; manual_dir=""; reference_dir="${FACESLEUTH_REFERENCE_DIR:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out="$2"; shift ;;
    --manual_dir) manual_dir="$2"; shift ;;
    --reference_dir) reference_dir="$2"; shift ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
export PYTHONUNBUFFERED=1
start=$(date +%s)
if [ "$quick" = 1 ]; then ks=1,2; presets=compact; steps=1; epochs=2; else ks=1,8,68; presets="compact paper"; steps=2; epochs=3; fi

for preset in $presets; do
  echo "== sweep throughput, $preset preset, K=$ks"
  python bench/sweep_throughput.py --ks "$ks" --preset "$preset" --steps "$steps" \
      --epochs "$epochs" --json "$out/sweep_$preset.json"
done

if [ -n "$reference_dir" ] && python -c "import torch" 2>/dev/null; then
  echo "== paper preset vs the PyTorch reference"
  if [ "$quick" = 1 ]; then ref_args="--batch 2 --rounds 1 --per_round 1 --sweep_folds 1 --sweep_steps 1"
  else ref_args="--batch 50 --rounds 3"; fi
  python bench/vs_reference.py --reference_dir "$reference_dir" $ref_args --json "$out/vs_reference.json"
else
  echo "== vs reference skipped: needs torch and --reference_dir (a Svardfox/FaceSleuth checkout)"
fi

echo "== one epoch of a LOSO sweep, every fold placed by the memory planner"
rm -rf "$out/epoch_run"
if [ -n "$manual_dir" ]; then
  config="configs/loso_composite.py:paper"; extra=(--config.data.manual_dir="$manual_dir")
  [ "$quick" = 1 ] && config="configs/loso_composite.py"
else
  config="configs/loso_synthetic.py"; extra=(--config.data.synthetic.num_subjects=4 --config.data.synthetic.clips_per_subject=4 --config.data.synthetic.size=64)
  [ "$quick" = 1 ] || config="configs/loso_synthetic.py:paper"
fi
python run.py --config="$config" "${extra[@]}" --config.train.epochs=1 \
    --config.baseline.logistic_regression=False --workdir="$out/epoch_run"

python - "$out" "$start" "$quick" <<'PY'
import json, os, pathlib, platform, sys, time
out, start, quick = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
import jax
figures = {"quick": quick, "device": jax.devices()[0].device_kind, "platform": jax.default_backend(),
           "devices": jax.device_count(), "host": platform.machine(), "cpus": os.cpu_count()}
for f in sorted(out.glob("sweep_*.json")):
    rows = json.loads(f.read_text())["rows"]
    figures[f.stem] = [{"K": r["K"], "together_fold_steps_per_s": r["together"]["fold_steps_per_s"],
                        "in_turn_fold_steps_per_s": r["in_turn"]["fold_steps_per_s"],
                        "ratio_together_over_in_turn": r["ratio"]} for r in rows]
ref = out / "vs_reference.json"
figures["vs_reference"] = json.loads(ref.read_text()) if ref.is_file() else "not run (torch or checkout absent)"
metrics = json.loads((out / "epoch_run" / "metrics.json").read_text())
figures["one_epoch_sweep"] = {k: metrics[k] for k in ("config_name", "num_folds", "train_seconds", "wall_seconds", "time_split_seconds")}
figures["one_epoch_sweep"]["execution"] = metrics["execution"]
figures["total_seconds"] = time.time() - start
tmp = out / ".accelerator_check.json.tmp"
tmp.write_text(json.dumps(figures, indent=1) + "\n")
os.replace(tmp, out / "accelerator_check.json")
print(json.dumps({k: v for k, v in figures.items() if k != "one_epoch_sweep"}, indent=1))
print(f"wrote {out / 'accelerator_check.json'} in {figures['total_seconds']:.0f} s")
PY
