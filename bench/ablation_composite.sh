#!/usr/bin/env bash
# Every cell of configs/ablation_composite.py, then its table and the paired
# comparisons that answer "does SOA help?" (with FPF and without).
#
#   bash bench/ablation_composite.sh --manual_dir ../shared/data/htnet_composite \
#       [--protocols "lodo loso"] [--out runs/ablation] [--seeds 3]
set -euo pipefail
manual_dir="" protocols="lodo" out="runs/ablation" seeds=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --manual_dir) manual_dir="$2"; shift 2 ;;
    --protocols) protocols="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    *) echo "usage: $0 --manual_dir DIR [--protocols 'lodo loso'] [--out DIR] [--seeds N]" >&2
       exit 2 ;;
  esac
done
[[ -n "$manual_dir" ]] || { echo "error: --manual_dir (the HTNet release) is required" >&2; exit 2; }
variants="motion motion_soa fpf full"
mkdir -p "$out"
for protocol in $protocols; do
  for variant in $variants; do
    start=$(date +%s)
    python run.py --config="configs/ablation_composite.py:$protocol,$variant" \
      --config.data.manual_dir="$manual_dir" --config.protocol.seeds="$seeds" \
      --workdir="$out/${protocol}_$variant" > "$out/${protocol}_$variant.log" 2>&1 \
      || { echo "error: $protocol,$variant failed; see $out/${protocol}_$variant.log" >&2; exit 1; }
    echo "$protocol,$variant: $(( $(date +%s) - start )) s"
  done
  python -m faceslueth_jax.evaluation.report $(for v in $variants; do echo "$out/${protocol}_$v"; done)
  for pair in "motion_soa motion" "full fpf" "full motion_soa" "fpf motion"; do
    set -- $pair
    echo; echo "## $protocol: $1 - $2"
    python -m faceslueth_jax.evaluation.report --compare "$out/${protocol}_$1" "$out/${protocol}_$2"
  done
done
