"""Two finished runs compared pair-wise: same samples, same folds, same seeds.

From each run's probabilities.npz (``run_files.write_probabilities``), per
selection rule, the difference A - B of the seed-mean UF1 and UAR and its 95%
interval from one subject bootstrap applied to both runs
(``bootstrap.paired_difference``). The difference is called beyond noise when
that interval excludes 0.
"""

from __future__ import annotations

import pathlib

import numpy as np

from faceslueth_jax.evaluation import bootstrap


class NotComparable(ValueError):
    pass


def load_probabilities(run_dir) -> dict:
    path = pathlib.Path(run_dir) / "probabilities.npz"
    if not path.is_file():
        raise NotComparable(f"{path}: missing (a run written before seed support, or not "
                            "a finished run)")
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def compare(run_a, run_b) -> list:
    """Per selection rule both runs hold: {rule, seeds, uf1: {...}, uar: {...}} (A - B)."""
    a, b = load_probabilities(run_a), load_probabilities(run_b)
    for key in ("sample_id", "label", "subject", "seeds"):
        if not np.array_equal(a[key], b[key]):
            raise NotComparable(f"{run_a} and {run_b} differ in {key}: a paired comparison "
                                "needs the same samples, folds and seeds")
    rules = [k[len("probs_"):] for k in a if k.startswith("probs_") and k in b]
    k = len(a["class_names"])
    return [dict(rule=rule, seeds=a["seeds"].tolist(), **bootstrap.paired_difference(
        a["label"], a[f"probs_{rule}"].argmax(-1), b[f"probs_{rule}"].argmax(-1),
        a["subject"], k)) for rule in rules]


def markdown(run_a, run_b) -> str:
    rows = compare(run_a, run_b)
    seeds = ",".join(str(s) for s in rows[0]["seeds"]) if rows else ""
    lines = [f"A = `{run_a}`, B = `{run_b}`; seeds {seeds}; "
             f"{rows[0]['interval'] if rows else ''}", "",
             "| selection | metric | A | B | A - B | 95% CI | beyond noise |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        for metric in bootstrap.STATISTICS:
            r = row[metric]
            lines.append(f"| {row['rule'].replace('_', ' ')} | {metric.upper()} | {r['a']:.4f} | "
                         f"{r['b']:.4f} | {r['difference']:+.4f} | "
                         f"[{r['ci95'][0]:+.4f}, {r['ci95'][1]:+.4f}] | "
                         f"{'yes' if r['beyond_noise'] else 'no'} |")
    return "\n".join(lines) + "\n"
