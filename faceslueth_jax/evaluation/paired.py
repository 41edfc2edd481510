"""Two finished runs compared pair-wise: same samples, same folds, same seeds.

From each run's probabilities.npz (``run_files.write_probabilities``), per
selection rule, the difference A - B of the seed-mean UF1 and UAR and its 95%
interval from one subject bootstrap applied to both runs
(``bootstrap.paired_difference``). The difference is called beyond noise when
that interval excludes 0. A rule that lets the test labels choose the epoch
(``best_test_epoch``) is marked OPTIMISTIC, as in the results table. The
comparison is a ``results_table.Table``, so it renders in the same formats.
Two paths of one run (the same folder, or a copy of it: ``same_run``) are refused;
two runs that happen to predict alike are compared (A - B = 0, within noise).
``rules=(rule_a, rule_b)`` compares run A's rule_a with run B's rule_b instead (one
row), which may be two rules of one run (e.g. nested against last_epoch: the same
models, paired by seed, fold and subject).
"""

from __future__ import annotations

import hashlib
import os
import pathlib

import numpy as np

from faceslueth_jax.evaluation import bootstrap, results_table, run_files, selection


class NotComparable(results_table.ReportError):
    pass


def load_probabilities(run_dir) -> dict:
    return run_files.read_npz(pathlib.Path(run_dir) / "probabilities.npz", NotComparable,
                              "a run written before seed support, or not a finished run")


# the files that make a run this run and no other: metrics.json records the command,
# the wall and training seconds and the scores, probabilities.npz every prediction
FINGERPRINT = ("metrics.json", "probabilities.npz")


def _fingerprint(run_dir) -> str | None:
    """A hash of the run's FINGERPRINT files (None when one cannot be read)."""
    digest = hashlib.sha256()
    for name in FINGERPRINT:
        try:
            data = (pathlib.Path(run_dir) / name).read_bytes()
        except OSError:
            return None
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def same_run(run_a, run_b) -> str | None:
    """Why ``run_a`` and ``run_b`` are one run, not two (None when they are two): the
    same folder (one real path, through links too), or a copy of one run (its
    FINGERPRINT files byte for byte the same: a second run, even with the same
    config, seed and numbers, records its own command line and timings)."""
    if os.path.realpath(run_a) == os.path.realpath(run_b):
        return f"{run_a} and {run_b} are the same run folder"
    fingerprint = _fingerprint(run_a)
    if fingerprint is not None and fingerprint == _fingerprint(run_b):
        return (f"{run_a} and {run_b} are copies of one run (metrics.json and "
                "probabilities.npz identical byte for byte)")
    return None


def compare(run_a, run_b, rules: tuple | None = None) -> list:
    """Per selection rule both runs hold: {rule, seeds, uf1: {...}, uar: {...}} (A - B);
    with ``rules`` = (rule_a, rule_b), one entry: A's rule_a against B's rule_b.
    Two paths of one run (``same_run``) are refused for the same rule: there is
    nothing to compare."""
    reason = same_run(run_a, run_b)
    if reason and (rules is None or rules[0] == rules[1]):
        raise NotComparable(f"{reason}: --compare takes two different runs (or, with "
                            "--rules=A:B, two rules of one run)")
    a, b = load_probabilities(run_a), load_probabilities(run_b)
    for key in ("sample_id", "label", "subject", "seeds", "class_names"):
        if key not in a or key not in b:
            raise NotComparable(f"{run_a if key not in a else run_b}: probabilities.npz holds "
                                f"no {key!r}")
    for key in ("sample_id", "label", "subject", "seeds"):
        if not np.array_equal(a[key], b[key]):
            raise NotComparable(f"{run_a} and {run_b} differ in {key}: a paired comparison "
                                "needs the same samples, folds and seeds")
    k = len(a["class_names"])
    if rules is not None:
        for run, held, rule in ((run_a, a, rules[0]), (run_b, b, rules[1])):
            if f"probs_{rule}" not in held:
                have = sorted(x[len("probs_"):] for x in held if x.startswith("probs_"))
                raise NotComparable(f"{run}: no {rule!r} predictions (it holds {have})")
        pairs = [rules]
    else:
        pairs = [(x[len("probs_"):],) * 2 for x in a if x.startswith("probs_") and x in b]
        if not pairs:
            raise NotComparable(f"{run_a} and {run_b} share no selection rule's probabilities")
    return [dict(rule=rule_a if rule_a == rule_b else f"{rule_a} - {rule_b}",
                 seeds=a["seeds"].tolist(), **bootstrap.paired_difference(
                     a["label"], a[f"probs_{rule_a}"].argmax(-1),
                     b[f"probs_{rule_b}"].argmax(-1), a["subject"], k))
            for rule_a, rule_b in pairs]


def table(run_a, run_b, rules: tuple | None = None) -> results_table.Table:
    """A row per rule and statistic: A, B, A - B, its 95% interval, beyond noise."""
    rows = compare(run_a, run_b, rules)
    seeds = ",".join(str(s) for s in rows[0]["seeds"])
    out = []
    for row in rows:
        optimistic = any(selection.OPTIMISTIC.get(r, False) for r in row["rule"].split(" - "))
        title = results_table.rule_title(row["rule"], optimistic)
        for metric in bootstrap.STATISTICS:
            r = row[metric]
            out.append(results_table.Row([
                title, metric.upper(), f"{r['a']:.4f}", f"{r['b']:.4f}",
                f"{r['difference']:+.4f}", f"[{r['ci95'][0]:+.4f}, {r['ci95'][1]:+.4f}]",
                "yes" if r["beyond_noise"] else "no"]))
    return results_table.Table(
        ["selection", "metric", "A", "B", "A - B", "95% CI", "beyond noise"], out,
        title=("A = ", str(run_a), ", B = ", str(run_b), f"; seeds {seeds}; {rows[0]['interval']}"))


def markdown(run_a, run_b, rules: tuple | None = None) -> str:
    return results_table.to_markdown(table(run_a, run_b, rules))
