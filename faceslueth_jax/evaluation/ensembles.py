r"""Ensembles chosen on inner validation only: seeds, flip test-time augmentation,
several models and the tuned linear model, from nested runs on the same folds.

  python -m faceslueth_jax.evaluation.ensembles RUN [RUN ...] [--out=table.md]

Each RUN is a finished run with ``protocol.selection='nested'`` (its ``nested.npz``,
``run_files.write_nested``): for every seed, outer fold f's epoch e*_f chosen by its
inner folds, the test probabilities at e*_f and the inner folds' validation
probabilities of f's training samples T_f at e*_f, the same at the last epoch (mirrored
rows too, with ``train.test_flip``), and the linear model's. A *unit* is one run's seeds
averaged at the nested or at the last epoch, p(x) = (1/S) sum_s p_s(x), plain or with the
flip (p_s = (p_s^plain + p_s^mirrored) / 2), or the linear model. For outer fold f, every
choice reads T_f's validation predictions and labels only, never f's test subject:

  flip       per run, the flip is kept where it raises V_f, the pooled UF1 over T_f;
  greedy     ensemble selection with replacement (Caruana et al. 2004): start from the
             unit of best V_f, then R - 1 times add the unit (again, possibly) that
             raises V_f of the running mean most (ties: the unit of best V_f alone, then
             the first); weights = counts / R.

Fold f's test samples are then predicted with fold f's choice. Every ensemble's UF1 and
UAR come with the 95% subject-bootstrap interval and the paired difference against the
tuned linear model on the same subjects (``bootstrap.paired_difference``).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np
from absl import app, flags

from faceslueth_jax import atomic_files, cli
from faceslueth_jax.evaluation import bootstrap, metrics, run_files

ROUNDS = 10

flags.declare_key_flag("out")  # the table (markdown), <out>.json beside it


class EnsembleError(ValueError):
    """Runs an ensemble cannot be made of (one line naming the file)."""


@dataclasses.dataclass
class Unit:
    """One candidate: test (N, K) and validation (F, N, K) probabilities."""
    name: str
    test: np.ndarray
    validation: np.ndarray


NEEDED = ("sample_id", "label", "subject", "class_names", "fold_of", "test", "validation")


def load(run_dir) -> dict:
    """A nested run's nested.npz, or one line saying why it cannot serve."""
    path = pathlib.Path(run_dir) / run_files.NESTED_FILE
    run = run_files.read_npz(path, EnsembleError,
                             "a run with protocol.selection='nested' writes it")
    lacking = [k for k in NEEDED if k not in run]
    if lacking:
        raise EnsembleError(f"{path}: holds no {', '.join(lacking)} (not a nested run's file)")
    return run


EPOCHS = (("", "nested epoch"), ("_last", "last epoch"))  # nested.npz suffix, in words


def units_of(run: dict, name: str) -> list:
    """The run's seed ensembles at its nested epochs and at its last epoch (files that
    predate the last epoch's arrays: the nested one alone), each plain and (when
    recorded) with the flip, named '<name> at the <epoch>[+flip]'."""
    out = []
    for suffix, words in EPOCHS:
        if f"test{suffix}" not in run:
            continue
        test, validation = run[f"test{suffix}"], run[f"validation{suffix}"]
        out.append(Unit(f"{name} at the {words}", test.mean(0), validation.mean(0)))
        if f"test_flipped{suffix}" in run:
            out.append(Unit(
                f"{name} at the {words}+flip", (test + run[f"test_flipped{suffix}"]).mean(0) / 2,
                (validation + run[f"validation_flipped{suffix}"]).mean(0) / 2))
    return out


def validation_uf1(labels, validation: np.ndarray, f: int) -> float:
    """V_f: the pooled UF1 of (F, N, K) validation probabilities over T_f."""
    train = ~np.isnan(validation[f, :, 0])
    k = validation.shape[-1]
    predicted = validation[f, train].argmax(-1)
    return float(metrics.scores(metrics.confusion_matrix(labels[train], predicted, k))["uf1"])


def greedy_weights(labels, units: list, f: int, rounds: int = ROUNDS) -> np.ndarray:
    """Fold f's weights over ``units`` by ensemble selection on V_f (module docstring)."""
    counts = np.zeros(len(units))
    solo = np.array([validation_uf1(labels, u.validation, f) for u in units])
    total = np.zeros_like(units[0].validation[f])  # NaN outside T_f once a unit is added
    for _ in range(rounds):
        scores = np.array([validation_uf1(labels, (total + u.validation[f])[None], 0)
                           for u in units])
        tied = np.flatnonzero(scores == scores.max())
        best = int(tied[np.argmax(solo[tied])])  # ties: the best alone, then the first
        counts[best] += 1
        total = total + units[best].validation[f]
    return counts / rounds


def combine(labels, fold_of, units: list, rounds: int = ROUNDS):
    """(test probabilities (N, K), weights (F, U)): every outer fold's greedy weights,
    its test samples predicted with them."""
    folds = units[0].validation.shape[0]
    weights = np.stack([greedy_weights(labels, units, f, rounds) for f in range(folds)])
    test = np.zeros_like(units[0].test)
    for f in range(folds):
        rows = fold_of == f
        test[rows] = sum(w * u.test[rows] for w, u in zip(weights[f], units))
    return test, weights


def flip_choice(labels, fold_of, plain: Unit, flipped: Unit):
    """(test (N, K), kept (F,) bool): the flip kept for fold f where it raises V_f."""
    folds = plain.validation.shape[0]
    kept = np.array([validation_uf1(labels, flipped.validation, f)
                     > validation_uf1(labels, plain.validation, f) for f in range(folds)])
    test = np.where(kept[fold_of][:, None], flipped.test, plain.test)
    return test, kept


def check_together(runs: dict) -> None:
    """Every run on the same samples, labels and outer folds."""
    first_name, first = next(iter(runs.items()))
    for name, run in runs.items():
        for key in ("sample_id", "label", "fold_of"):
            if not np.array_equal(run[key], first[key]):
                raise EnsembleError(f"{name} and {first_name} differ in {key}: an ensemble "
                                    "needs runs on the same samples and folds")


def ensembles(run_dirs: list, rounds: int = ROUNDS) -> dict:
    """Every ensemble of the module docstring for ``run_dirs``, scored."""
    resolved = [str(pathlib.Path(r).resolve()) for r in run_dirs]
    twice = sorted({r for r in run_dirs if resolved.count(str(pathlib.Path(r).resolve())) > 1})
    if twice:
        raise EnsembleError(f"{twice[0]}: given twice (each run is one member)")
    runs = {str(r): load(r) for r in run_dirs}
    check_together(runs)
    first = next(iter(runs.values()))
    labels, fold_of, subjects = first["label"], first["fold_of"], first["subject"]
    k = len(first["class_names"])
    linear = next((r for r in runs.values() if "linear_test" in r), None)
    results, candidates = {}, []
    for name, run in runs.items():
        units = units_of(run, name)
        flipped = {u.name: u for u in units if u.name.endswith("+flip")}
        for unit in (u for u in units if u.name not in flipped):
            results[f"{unit.name}: seeds averaged"] = {"test": unit.test}
            if f"{unit.name}+flip" in flipped:
                test, kept = flip_choice(labels, fold_of, unit, flipped[f"{unit.name}+flip"])
                results[f"{unit.name}: seeds averaged, flip chosen per fold"] = {
                    "test": test, "folds_with_flip": int(kept.sum())}
        candidates += units
    names = [u.name for u in candidates]
    if len(candidates) > 1:
        test, weights = combine(labels, fold_of, candidates, rounds)
        results["greedy over the runs"] = {"test": test, "mean_weights": dict(
            zip(names, weights.mean(0).round(3).tolist()))}
    if linear is not None:
        lin = Unit("linear", linear["linear_test"], linear["linear_validation"])
        test, weights = combine(labels, fold_of, candidates + [lin], rounds)
        results["greedy over the runs and the linear model"] = {
            "test": test, "mean_weights": dict(zip(names + ["linear"],
                                                   weights.mean(0).round(3).tolist()))}
    def scored(predicted) -> dict:
        summary = bootstrap.seed_summary(labels, predicted[None], subjects, k)
        return {m: {"value": summary[m]["mean"], "ci95": summary[m]["ci95"]}
                for m in ("uf1", "uar")}

    out = {}
    for title, r in results.items():
        predicted = r.pop("test").argmax(-1)
        entry = scored(predicted)
        if linear is not None:
            entry["minus_linear"] = bootstrap.difference(
                labels, predicted[None], linear["linear_test"].argmax(-1)[None], subjects, k)
        out[title] = dict(entry, **r)
    if linear is not None:
        out["linear model alone"] = scored(linear["linear_test"].argmax(-1))
    return out


def table(results: dict) -> str:
    lines = ["| ensemble (choices on inner validation only) | UF1 [95%] | UAR [95%] | "
             "UF1 minus the linear model [95%] |", "|---|---|---|---|"]
    for title, r in results.items():
        cell = lambda m: f"{r[m]['value']:.3f} [{r[m]['ci95'][0]:.3f}, {r[m]['ci95'][1]:.3f}]"
        d = r.get("minus_linear", {}).get("uf1")
        diff = bootstrap.signed(d) if d else ""
        lines.append(f"| {title} | {cell('uf1')} | {cell('uar')} | {diff} |")
    return "\n".join(lines) + "\n"


def main(argv):
    paths = argv[1:]
    if not paths:
        cli.fail("give one or more nested runs' folders")
    out = pathlib.Path(cli.OUT.value) if cli.OUT.value else None
    if out is not None:  # the table and its .json beside it, checked before any work
        problem = atomic_files.file_problem(out, atomic_files.json_beside(out))
        if problem:
            cli.fail(f"--out={out}: {problem}")
    try:
        results = ensembles(paths)
    except EnsembleError as e:
        cli.fail(str(e))
    text = table(results)
    if out is not None:
        atomic_files.write_text(atomic_files.json_beside(out), json.dumps(results, indent=1))
        atomic_files.write_text(out, text)
    print(text, end="")


def parse_flags(argv):
    return cli.parse_flags(argv, command="python -m faceslueth_jax.evaluation.ensembles",
                           takes=("out",), needs_config=False)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
