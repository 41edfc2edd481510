r"""Every model in the project on the MEGC2019 composite under LOSO, in one table.

  python bench/leaderboard.py --manual_dir=../shared/data/htnet_composite \
      --runs_dir=runs/leaderboard --out=runs/leaderboard/table.md

For each row (``ROWS``: the project's models, tvaranka/meb's networks, the
hand-crafted descriptors and the tuned linear model) it finds the seeds already run
(the row's kept folders in bench/runs, then ``<runs_dir>/<row>_seeds<a>-<b>``),
trains the missing ones of seeds 0 .. S-1 in one sweep through run.py (rerunning the
same command resumes an interrupted sweep from its checkpoints; its output goes to
``<runs_dir>/<row>_seeds<a>-<b>.log``), and scores every row the same way from the
runs' probabilities.npz:

  honest     the last epoch of the fixed schedule: UF1 and UAR, mean +- std over the
             seeds, the 95% subject-bootstrap interval of that mean, and the seed
             ensemble (probabilities averaged over seeds) with its own interval;
  OPTIMISTIC each subject's best test epoch (test labels chose it), mean over seeds;
  nested     where the runs trained inner folds (protocol.selection='nested'): each
             fold's epoch chosen by them (honest), mean over seeds, in the notes;
  per database the honest UF1, mean over seeds, of CASME II, SAMM and SMIC-HS;
  time       the runs' wall seconds per seed, on the machine that made them.

Below the table, the trained rows together: their seed ensembles averaged with equal
weights, p(x) = (1/R) sum_r (1/S_r) sum_s p_rs(x), honest (no data chooses a member or a
weight), with its interval and the paired difference against the tuned linear model; and,
marked OPTIMISTIC, the subset of rows whose average scores best on the test labels, an
upper bound of what averaging these rows can reach.

Hand-crafted rows have no training loop: a class-balanced logistic regression on the
descriptor with its L2 chosen per fold by an inner CV (``baseline.features``), one
deterministic result. ``--notrain`` tables what exists and lists the commands of the
rest. Writes the table (markdown) and ``<out>.json`` atomically.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import pathlib
import re
import shlex
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

from faceslueth_jax import atomic_files, cli  # noqa: F401  (cli: the shared --out)
from faceslueth_jax.data import model_inputs, records, sources
from faceslueth_jax.evaluation import baseline, bootstrap, metrics, paired
from faceslueth_jax.train import protocols
from faceslueth_jax.train.protocols import subject_keys

REPO = pathlib.Path(__file__).resolve().parents[1]

flags.DEFINE_string("manual_dir", "../shared/data/htnet_composite",
                    "HTNet's release of the composite (the runs' data.manual_dir)")
flags.DEFINE_string("runs_dir", "runs/leaderboard", "where missing seeds are trained")
flags.DEFINE_integer("seeds", 3, "seeds 0 .. S-1 of every trained row")
flags.DEFINE_list("rows", [], "only these rows (default: all); keys of ROWS")
flags.DEFINE_bool("train", True, "train the missing seeds (--notrain: table what exists)")
flags.declare_key_flag("out")  # faceslueth_jax.cli's: the table; <out>.json beside it
FLAGS = flags.FLAGS
DEFAULT_OUT = "runs/leaderboard/table.md"

DATABASES = (("casme2", "CASME II"), ("samm", "SAMM"), ("smic", "SMIC-HS"))


@dataclasses.dataclass(frozen=True)
class Row:
    key: str
    title: str
    config: str                 # configs/NAME.py[:ARG]
    schedule: str               # what the runs train, and what was shortened
    overrides: tuple = ()
    kept: tuple = ()            # bench/runs folders whose seeds count
    meb: str = ""               # meb's published composite UF1 (fixed schedule / best test epoch)
    features: str = ""          # a hand-crafted row: baseline.features, no training loop


ROWS = (
    Row("faceslueth_r", "FaceSleuth-R, compact", "configs/ablation_composite.py:loso,full",
        "20 epochs (the paper's schedule needs an accelerator)",
        kept=("bench/runs/ablation_loso_full",)),
    Row("motion", "FaceSleuth-R's motion stream (no SOA, no FPF)",
        "configs/ablation_composite.py:loso,motion",
        "20 epochs (a nested sweep: its time includes 4 inner folds per fold)",
        # nested: the same models, each fold's epoch also chosen by 4 inner folds
        overrides=("--config.protocol.selection=nested", "--config.train.test_flip=True"),
        kept=("bench/runs/motion_nested_seeds0-2",)),
    Row("htnet", "HTNet, compact", "configs/htnet_composite.py:compact",
        "20 epochs (HTNet's 800 need an accelerator)",
        overrides=("--config.model.htnet.landmarks=haar",),
        kept=("bench/runs/htnet_landmarks_haar",)),
    Row("ststnet", "STSTNet", "configs/ststnet_composite.py:short",
        "200 epochs of meb's 500 (Adam 5e-5, constant lr)", meb="0.7127 / 0.7740",
        kept=("bench/runs/ststnet_composite_short_seeds0-2",)),
    Row("offapexnet", "OFF-ApexNet", "configs/offapexnet_composite.py:short",
        "200 epochs at lr 5e-5 (meb: 3000 at 1e-4)", meb="0.7032 / 0.8390",
        kept=tuple(f"bench/runs/offapexnet_composite_seed{s}" for s in range(3))),
    Row("sssnet", "SSSNet", "configs/sssnet_composite.py:short",
        "30 epochs of meb's 200 (Adam 1e-4, constant lr)", meb="0.7394 / -",
        kept=("bench/runs/sssnet_composite_short_seeds0-2",)),
    Row("rcn_a", "RCN-A", "configs/rcn_a_composite.py:short",
        "10 epochs of meb's 200 (SGD 0.01, constant lr)", meb="0.6821 / -"),
    Row("resnet18", "ResNet-18, from scratch", "configs/resnet18_composite.py:short",
        "10 epochs of meb's 200 (SGD 0.01, constant lr; meb's starts from ImageNet)",
        meb="0.6979 / -",
        kept=tuple(f"bench/runs/resnet18_composite_short_seed{s}" for s in range(3))),
    Row("mdmo", "MDMO + logistic regression", "configs/mdmo_composite.py",
        "no training loop; L2 by inner CV", meb="0.5854 (SVM) / -", features="mdmo"),
    Row("linear", "logistic regression on the 28x28 flow", "configs/mdmo_composite.py",
        "no training loop; L2 by inner CV", features="flow"),
)
NOT_RUN = {"LBP-TOP + logistic regression": "HTNet's composite release holds flow only, no "
                                            "frames (configs/lbp_top_synthetic.py runs it on "
                                            "the synthetic data); meb: 0.6015 / 0.6107 (SVM)"}


class LeaderboardError(ValueError):
    pass


def fail(message: str):
    """One line on stderr, exit 2 (nothing written)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def config_args(row: Row, manual_dir: str) -> list:
    return [f"--config={row.config}", f"--config.data.manual_dir={manual_dir}", *row.overrides]


def trained_dir(runs_dir: pathlib.Path, row: Row, seeds: list) -> pathlib.Path:
    return runs_dir / f"{row.key}_seeds{seeds[0]}-{seeds[-1]}"


def finished_runs(row: Row, runs_dir: pathlib.Path) -> list:
    """The row's finished run folders: its kept ones, then those trained here."""
    kept = [REPO / k for k in row.kept if (REPO / k / "probabilities.npz").is_file()]
    pattern = re.compile(rf"{re.escape(row.key)}_seeds\d+-\d+")
    trained = sorted(p for p in (REPO / runs_dir).glob(f"{row.key}_seeds*")
                     if pattern.fullmatch(p.name) and (p / "probabilities.npz").is_file())
    return kept + trained


def contiguous(seeds: list) -> list:
    """[[a, a+1, ..], ...]: ``seeds`` (sorted) cut into runs of consecutive seeds."""
    out = []
    for s in seeds:
        if out and s == out[-1][-1] + 1:
            out[-1].append(s)
        else:
            out.append([s])
    return out


def train_command(row: Row, seeds: list, runs_dir: pathlib.Path, manual_dir: str) -> list:
    return [sys.executable, "run.py", *config_args(row, manual_dir),
            f"--config.seed={seeds[0]}", f"--config.protocol.seeds={len(seeds)}",
            f"--workdir={trained_dir(runs_dir, row, seeds)}"]


def train(row: Row, seeds: list, runs_dir: pathlib.Path, manual_dir: str) -> None:
    """One sweep of ``seeds`` (consecutive) through run.py; output to its .log."""
    command = train_command(row, seeds, runs_dir, manual_dir)
    log = REPO / trained_dir(runs_dir, row, seeds).with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{row.key}] seeds {seeds}: {shlex.join(command[1:])}  (log: {log})", flush=True)
    with open(log, "a") as out:
        rc = subprocess.run(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT).returncode
    if rc:
        raise LeaderboardError(f"{log}: run.py exited {rc} (its last lines say why); rerun "
                               "the same command to resume")


def shown(path) -> str:
    """``path`` relative to the repository when it lies in it."""
    path = pathlib.Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def merged_probabilities(runs: list) -> dict:
    """The runs' probabilities.npz joined over seeds (every run on the same samples; a
    copy of a run already joined is left out)."""
    merged, seen = None, []
    for run in runs:
        if any(paired.same_run(run, other) for other in seen):
            continue  # a kept copy of a run trained here: one run, counted once
        seen.append(run)
        p = paired.load_probabilities(run)
        if merged is None:
            merged = dict(p, runs=[shown(run)])
            continue
        if not np.array_equal(p["sample_id"], merged["sample_id"]):
            raise LeaderboardError(f"{run}: other samples than {merged['runs'][0]}")
        clash = set(p["seeds"].tolist()) & set(merged["seeds"].tolist())
        if clash:
            raise LeaderboardError(f"{run}: seed(s) {sorted(clash)} already in "
                                   f"{merged['runs']}")
        for k in ("seeds", "probs_last_epoch", "probs_best_test_epoch", "probs_nested"):
            if k in merged and k in p:
                merged[k] = np.concatenate([merged[k], p[k]])
            else:
                merged.pop(k, None)  # nested only when every run of the row has it
        merged["runs"].append(shown(run))
    return merged


def _summary(labels, predictions, subjects, k) -> dict:
    s = bootstrap.seed_summary(labels, predictions, subjects, k)
    return {m: {"mean": s[m]["mean"], "std": s[m]["std"], "ci95": s[m]["ci95"],
                "per_seed": s["per_seed"][m]} for m in ("uf1", "uar")}


def scores(p: dict) -> dict:
    """Honest (per seed, mean, std, interval; ensemble), OPTIMISTIC and per database."""
    labels, k = p["label"], len(p["class_names"])
    subjects = subject_keys(p["dataset"], p["subject"])
    honest = p["probs_last_epoch"].argmax(-1)
    ensemble = p["probs_last_epoch"].mean(0).argmax(-1)[None]
    out = {"seeds": p["seeds"].tolist(), "runs": p["runs"],
           "honest": _summary(labels, honest, subjects, k),
           "ensemble": _summary(labels, ensemble, subjects, k),
           "optimistic": _summary(labels, p["probs_best_test_epoch"].argmax(-1), subjects, k),
           "per_database": {}}
    if "probs_nested" in p:  # each fold's epoch chosen by its inner folds (honest)
        out["nested"] = _summary(labels, p["probs_nested"].argmax(-1), subjects, k)
    for name, _ in DATABASES:
        keep = p["dataset"] == name
        if keep.any():
            out["per_database"][name] = _summary(labels[keep], honest[:, keep], subjects[keep],
                                                 k)["uf1"]["mean"]
    return out


def read_json(path: pathlib.Path) -> dict:
    """A run's or a kept result's JSON file; damaged: one line naming it."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise LeaderboardError(f"{shown(path)}: unreadable ({e})") from e


def run_seconds(runs: list) -> float:
    """Wall seconds per seed over the runs (metrics.json's wall_seconds / its seeds)."""
    total = seeds = 0
    for run in runs:
        m = read_json(pathlib.Path(run) / "metrics.json")
        total += m["wall_seconds"]
        seeds += len(m["seeds"])
    return total / seeds


def handcrafted(row: Row, manual_dir: str, runs_dir: pathlib.Path) -> dict:
    """The inner-CV logistic regression on ``row.features``, kept in <runs_dir>/<key>.json
    (deterministic: computed once)."""
    cached = REPO / runs_dir / f"{row.key}.json"
    if cached.is_file():
        kept = read_json(cached)
        if "probabilities" in kept:  # older files lack them: computed again
            return kept
    module = importlib.import_module("configs." + pathlib.Path(row.config.split(":")[0]).stem)
    config = module.get_config(row.config.partition(":")[2])
    config.data.manual_dir = manual_dir
    config.baseline.update(logistic_regression=True, features=row.features)
    data = model_inputs.prepared_data(config, records.read_builder(sources.prepare(config.data)))
    folds = protocols.make_folds(config.protocol.name, data.dataset, data.subject)
    started = time.perf_counter()
    logits, fit = baseline.logits(config, data, folds)
    seconds = time.perf_counter() - started
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    p = {"sample_id": data.sample_id, "label": data.label, "subject": data.subject,
         "dataset": data.dataset, "class_names": np.asarray(data.class_names),
         "seeds": np.array([0]), "probs_last_epoch": (probs / probs.sum(-1, keepdims=True))[None],
         "runs": [f"{row.config} baseline.features={row.features}"]}
    p["probs_best_test_epoch"] = p["probs_last_epoch"]
    out = dict(scores(p), seconds=seconds, fit={k: v for k, v in fit.items()
                                                if k != "chosen_l2_per_fold"})
    out["sample_id"] = [str(s) for s in data.sample_id]
    out["probabilities"] = p["probs_last_epoch"][0].round(6).tolist()
    atomic_files.write_text(cached, json.dumps(out, indent=1))
    return out


def cross_model(merged: dict, linear: dict | None) -> dict:
    """The rows of ``merged`` (row key -> merged probabilities) averaged with equal
    weights over their seed ensembles (honest), paired with ``linear`` (the linear row's
    result) where given, and the best subset by test UF1 (OPTIMISTIC)."""
    keys = list(merged)
    first = merged[keys[0]]
    for key in keys[1:]:
        if not np.array_equal(merged[key]["sample_id"], first["sample_id"]):
            raise LeaderboardError(f"{merged[key]['runs'][0]}: other samples, or another "
                                   f"order, than {first['runs'][0]}")
    labels, k = first["label"], len(first["class_names"])
    subjects = subject_keys(first["dataset"], first["subject"])
    each = {key: merged[key]["probs_last_epoch"].mean(0) for key in keys}
    predicted = np.mean(list(each.values()), 0).argmax(-1)[None]
    out = {"rows": keys, "honest": _summary(labels, predicted, subjects, k)}
    if linear is not None:
        if [str(s) for s in first["sample_id"]] != linear["sample_id"]:
            raise LeaderboardError(f"{first['runs'][0]}: other samples, or another order, "
                                   "than the linear model's data")
        against = np.asarray(linear["probabilities"]).argmax(-1)[None]
        out["minus_linear"] = bootstrap.difference(labels, predicted, against, subjects, k)
        out["seed_ensembles_minus_linear"] = {
            key: bootstrap.difference(labels, e.argmax(-1)[None], against, subjects, k)
            for key, e in each.items()}
    uf1 = lambda members: metrics.pooled_scores(
        labels, np.mean([each[m] for m in members], 0).argmax(-1), k)["uf1"]
    subsets = [c for r in range(1, len(keys) + 1) for c in itertools.combinations(keys, r)]
    best = max(subsets, key=uf1)  # ties: the first, the smallest
    out["best_subset_optimistic"] = {"rows": list(best), "uf1": float(uf1(best))}
    return out


def cross_model_notes(result: dict) -> list:
    """The lines under the table for ``cross_model``'s result."""
    title = {row.key: row.title for row in ROWS}.get
    notes = []
    if "seed_ensembles_minus_linear" in result:
        each = "; ".join(f"{title(key, key)} {bootstrap.signed(d['uf1'])}"
                         for key, d in result["seed_ensembles_minus_linear"].items())
        notes.append(f"- Each row's seed ensemble minus the linear model, UF1 (paired over "
                     f"subjects, 95%): {each}.")
    h = result["honest"]
    line = (f"- The {len(result['rows'])} trained rows averaged (equal weights over their "
            f"seed ensembles, last epoch; honest: no choice): UF1 {_mean_std(h['uf1'], 1)}, "
            f"UAR {_mean_std(h['uar'], 1)}")
    if "minus_linear" in result:
        line += (f"; minus the linear model {bootstrap.signed(result['minus_linear']['uf1'])} "
                 "(paired over subjects)")
    best = result["best_subset_optimistic"]
    return notes + [line + ".", (
        f"- The subset of those rows whose average scores best on the test labels "
        f"(OPTIMISTIC: an upper bound for averaging them): UF1 {best['uf1']:.3f}, "
        + "; ".join(title(key, key) for key in best["rows"]) + ".")]


def _mean_std(s: dict, seeds: int) -> str:
    spread = f" ± {s['std']:.3f}" if seeds > 1 else ""
    return f"{s['mean']:.3f}{spread} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"


def table(results: dict) -> str:
    head = ("| model | schedule | seeds | UF1, honest: mean ± std [95%] | UAR, honest | "
            "UF1, seed ensemble [95%] | UF1, best test epoch (OPTIMISTIC) | "
            "UF1 CASME II / SAMM / SMIC-HS | time per seed, 2 CPU cores | meb's UF1 "
            "(fixed schedule / best test epoch) |")
    lines = [head, "|" + "---|" * 10]
    for row in ROWS:
        r = results.get(row.key)
        if r is None:
            continue
        if "missing" in r:
            lines.append(f"| {row.title} | {row.schedule} | not run | {r['missing']} "
                         f"| | | | | | {row.meb} |")
            continue
        n = len(r["seeds"])
        per_db = " / ".join(f"{r['per_database'].get(d, float('nan')):.3f}"
                            for d, _ in DATABASES)
        ensemble = _mean_std(r["ensemble"]["uf1"], 1) if n > 1 else "(one result)"
        optimistic = "(no epochs)" if row.features else f"{r['optimistic']['uf1']['mean']:.3f}"
        seconds = r.get("seconds_per_seed", r.get("seconds", 0.0))
        time_text = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
        lines.append(f"| {row.title} | {row.schedule} | {n if not row.features else '-'} | "
                     f"{_mean_std(r['honest']['uf1'], n)} | {_mean_std(r['honest']['uar'], n)} "
                     f"| {ensemble} | {optimistic} | {per_db} | {time_text} | {row.meb} |")
    for title, why in NOT_RUN.items():
        lines.append(f"| {title} | not run | | {why} | | | | | | |")
    notes = [f"- {row.title}: UF1 with each fold's epoch chosen by nested CV (honest) "
             f"{_mean_std(results[row.key]['nested']['uf1'], len(results[row.key]['seeds']))}"
             for row in ROWS if "nested" in results.get(row.key, {})]
    if "cross_model" in results:
        notes += cross_model_notes(results["cross_model"])
    return "\n".join(lines) + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")


def usage_problem(seeds: int, runs_dir: pathlib.Path, out: pathlib.Path) -> str | None:
    """What is wrong with the command line before any work (None: nothing): seeds below
    1, a runs folder that is a file, a table path that is a folder or lies under a file."""
    if seeds < 1:
        return f"--seeds={seeds}: the rows need at least 1 seed (seeds 0 .. S-1)"
    if runs_dir.exists() and not runs_dir.is_dir():
        return f"--runs_dir={runs_dir} is a file, not a folder"
    problem = atomic_files.file_problem(out, atomic_files.json_beside(out))
    return problem and f"--out={out}: {problem}"


def main(argv):
    del argv
    runs_dir = pathlib.Path(FLAGS.runs_dir)  # relative ones: to the repository (run.py's cwd)
    wanted = [r for r in ROWS if not FLAGS.rows or r.key in FLAGS.rows]
    unknown = set(FLAGS.rows) - {r.key for r in ROWS}
    if unknown:
        fail(f"--rows: no row {sorted(unknown)}; rows: {[r.key for r in ROWS]}")
    out = REPO / (FLAGS.out or DEFAULT_OUT)
    problem = usage_problem(FLAGS.seeds, REPO / runs_dir, out)
    if problem:
        fail(problem)
    results, merged_rows = {}, {}
    try:
        for row in wanted:
            if row.features:
                results[row.key] = handcrafted(row, FLAGS.manual_dir, runs_dir)
                continue
            runs = finished_runs(row, runs_dir)
            have = set(merged_probabilities(runs)["seeds"].tolist()) if runs else set()
            missing = sorted(set(range(FLAGS.seeds)) - have)
            if missing and FLAGS.train:
                for seeds in contiguous(missing):
                    train(row, seeds, runs_dir, FLAGS.manual_dir)
                runs = finished_runs(row, runs_dir)
            elif missing:
                commands = [shlex.join(train_command(row, s, runs_dir, FLAGS.manual_dir)[1:])
                            for s in contiguous(missing)]
                if not runs:
                    results[row.key] = {"missing": "; ".join(f"`python {c}`" for c in commands)}
                    continue
                print(f"[{row.key}] tabled with seeds {sorted(have)}; missing: "
                      + "; ".join(commands), flush=True)
            merged_rows[row.key] = merged = merged_probabilities(runs)
            results[row.key] = dict(scores(merged), seconds_per_seed=run_seconds(runs))
        if len(merged_rows) > 1:
            results["cross_model"] = cross_model(merged_rows, results.get("linear"))
    except (LeaderboardError, paired.NotComparable) as e:
        fail(str(e))
    except (ValueError, OSError) as e:  # the data of a hand-crafted row (builders' errors)
        fail(" ".join(str(e).split()))
    text = table(results)
    atomic_files.write_text(atomic_files.json_beside(out), json.dumps(results, indent=1))
    atomic_files.write_text(out, text)
    print(text)


if __name__ == "__main__":
    app.run(main)
