"""bench/leaderboard.py: a model's seeds join over its runs (kept and new), the seeds
still missing are trained in consecutive sweeps, and runs that do not belong together
are refused with the file named."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from faceslueth_jax import atomic_files
from tests.conftest import REPO

_PATH = REPO / "bench" / "leaderboard.py"
_spec = importlib.util.spec_from_file_location("leaderboard", _PATH)
leaderboard = importlib.util.module_from_spec(_spec)
sys.modules["leaderboard"] = leaderboard  # its dataclasses look their module up
_spec.loader.exec_module(leaderboard)

N, K = 12, 3


def _run(folder: pathlib.Path, seeds, samples=None, seconds=60.0, seed=0,
         nested=False) -> pathlib.Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    label = np.arange(N) % K
    probs = rng.dirichlet(np.ones(K), size=(len(seeds), N)).astype(np.float32)
    probs[0, np.arange(N), label] += 2.0  # the first seed mostly right
    probs /= probs.sum(-1, keepdims=True)
    atomic_files.write_npz(
        folder / "probabilities.npz",
        sample_id=np.asarray(samples if samples is not None else [f"s{i}" for i in range(N)]),
        label=label, subject=np.array([f"p{i // 2}" for i in range(N)]),
        dataset=np.array(["casme2"] * 6 + ["samm"] * 6), class_names=np.array(["a", "b", "c"]),
        seeds=np.asarray(seeds), probs_last_epoch=probs, probs_best_test_epoch=probs,
        **({"probs_nested": probs[:, :, ::-1]} if nested else {}))
    (folder / "metrics.json").write_text(json.dumps({"wall_seconds": seconds,
                                                     "seeds": list(seeds)}))
    return folder


def test_seeds_join_over_runs_and_score_like_one_sweep(tmp_path):
    a = _run(tmp_path / "a", [0, 1])
    b = _run(tmp_path / "b", [2], seed=1)
    merged = leaderboard.merged_probabilities([a, b])
    assert merged["seeds"].tolist() == [0, 1, 2] and merged["probs_last_epoch"].shape == (3, N, K)
    scores = leaderboard.scores(merged)
    per_seed = scores["honest"]["uf1"]["per_seed"]
    assert len(per_seed) == 3
    assert scores["honest"]["uf1"]["mean"] == pytest.approx(np.mean(per_seed))
    assert per_seed[0] == pytest.approx(1.0)
    assert set(scores["per_database"]) == {"casme2", "samm"}
    assert leaderboard.run_seconds([a, b]) == pytest.approx(40.0)  # 120 s over 3 seeds


def test_runs_that_do_not_belong_together_are_refused(tmp_path):
    a = _run(tmp_path / "a", [0, 1])
    with pytest.raises(leaderboard.LeaderboardError, match=r"seed\(s\) \[1\]"):
        leaderboard.merged_probabilities([a, _run(tmp_path / "b", [1, 2])])
    other = _run(tmp_path / "c", [2], samples=[f"t{i}" for i in range(N)])
    with pytest.raises(leaderboard.LeaderboardError, match="other samples"):
        leaderboard.merged_probabilities([a, other])


def test_missing_seeds_are_trained_in_consecutive_sweeps():
    assert leaderboard.contiguous([0, 1, 2]) == [[0, 1, 2]]
    assert leaderboard.contiguous([0, 2, 3, 5]) == [[0], [2, 3], [5]]
    row = leaderboard.ROWS[0]
    command = leaderboard.train_command(row, [2, 3], pathlib.Path("runs/lb"), "data")
    assert "--config.seed=2" in command and "--config.protocol.seeds=2" in command
    assert f"--workdir=runs/lb/{row.key}_seeds2-3" in command


def test_a_row_s_finished_runs_are_its_kept_ones_then_its_own(tmp_path):
    row = leaderboard.Row("m", "M", "configs/x.py", "s", kept=())
    _run(tmp_path / "m_seeds0-1", [0, 1])
    _run(tmp_path / "m_seeds2-2", [2])
    (tmp_path / "m_seeds3-3").mkdir()  # interrupted: no probabilities yet
    _run(tmp_path / "mm_seeds0-0", [0])  # another row's
    assert [p.name for p in leaderboard.finished_runs(row, tmp_path)] == ["m_seeds0-1",
                                                                          "m_seeds2-2"]


def test_an_unknown_row_is_one_line_naming_it(tmp_path):
    proc = subprocess.run([sys.executable, str(_PATH), "--rows=nonet", "--notrain",
                           f"--out={tmp_path / 't.md'}"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "no row ['nonet']" in proc.stderr
    assert not (tmp_path / "t.md").exists()


def test_the_nested_rule_is_tabled_only_when_every_run_has_it(tmp_path):
    a = _run(tmp_path / "a", [0, 1], nested=True)
    b = _run(tmp_path / "b", [2], seed=1, nested=True)
    both = leaderboard.scores(leaderboard.merged_probabilities([a, b]))
    assert len(both["nested"]["uf1"]["per_seed"]) == 3
    assert both["nested"]["uf1"]["mean"] != both["honest"]["uf1"]["mean"]
    c = _run(tmp_path / "c", [2], seed=1)
    assert "nested" not in leaderboard.scores(leaderboard.merged_probabilities([a, c]))


def test_a_kept_copy_of_a_run_counts_once(tmp_path):
    import shutil
    a = _run(tmp_path / "runs" / "m_seeds0-2", [0, 1, 2])
    kept = tmp_path / "bench" / "m_seeds0-2"
    shutil.copytree(a, kept)
    merged = leaderboard.merged_probabilities([kept, a])
    assert merged["seeds"].tolist() == [0, 1, 2] and merged["runs"] == [leaderboard.shown(kept)]


def test_the_rows_together_average_their_seed_ensembles_and_bound_the_subsets(tmp_path):
    from faceslueth_jax.evaluation import metrics
    rows = {f"m{i}": leaderboard.merged_probabilities([_run(tmp_path / f"m{i}", seeds, seed=i)])
            for i, seeds in enumerate(([0, 1, 2], [0], [0, 1]))}
    labels = rows["m0"]["label"]
    linear_probs = np.random.default_rng(7).dirichlet(np.ones(K), size=N)
    linear = {"sample_id": [f"s{i}" for i in range(N)], "probabilities": linear_probs.tolist()}
    out = leaderboard.cross_model(rows, linear)
    each = [r["probs_last_epoch"].mean(0) for r in rows.values()]  # seed ensembles
    want = metrics.pooled_scores(labels, np.mean(each, 0).argmax(-1), K)["uf1"]
    assert out["honest"]["uf1"]["mean"] == pytest.approx(want)
    diff = out["minus_linear"]["uf1"]
    linear_uf1 = metrics.pooled_scores(labels, linear_probs.argmax(-1), K)["uf1"]
    assert diff["difference"] == pytest.approx(want - linear_uf1)
    assert diff["ci95"][0] <= diff["difference"] <= diff["ci95"][1]
    single = out["seed_ensembles_minus_linear"]["m1"]["uf1"]["difference"]
    assert single == pytest.approx(metrics.pooled_scores(labels, each[1].argmax(-1), K)["uf1"]
                                   - linear_uf1)
    best = out["best_subset_optimistic"]
    singles = [metrics.pooled_scores(labels, e.argmax(-1), K)["uf1"] for e in each]
    assert best["uf1"] >= max(max(singles), want) - 1e-12
    notes = "\n".join(leaderboard.cross_model_notes(out))
    assert "3 trained rows averaged" in notes and "OPTIMISTIC" in notes


def test_rows_on_other_samples_are_not_averaged(tmp_path):
    a = leaderboard.merged_probabilities([_run(tmp_path / "a", [0])])
    b = leaderboard.merged_probabilities([_run(tmp_path / "b", [0], samples=[f"s{i}" for i in
                                                                          range(N)][::-1])])
    with pytest.raises(leaderboard.LeaderboardError, match="other samples, or another order"):
        leaderboard.cross_model({"a": a, "b": b}, None)


def test_a_damaged_kept_result_is_one_line_naming_it(tmp_path):
    runs_dir = tmp_path / "lb"
    runs_dir.mkdir()
    (runs_dir / "linear.json").write_text('{"seeds": [0], "probabil')  # cut short
    proc = subprocess.run([sys.executable, str(_PATH), "--rows=linear", "--notrain",
                           f"--runs_dir={runs_dir}", f"--out={tmp_path / 't.md'}"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "linear.json: unreadable" in proc.stderr and not (tmp_path / "t.md").exists()
    a = _run(tmp_path / "a", [0])
    (a / "metrics.json").write_text("{")
    with pytest.raises(leaderboard.LeaderboardError, match="metrics.json: unreadable"):
        leaderboard.run_seconds([a])


def test_a_bad_command_line_is_refused_before_any_work(tmp_path):
    """No seed, a runs folder that is a file, a table path that is a folder or lies
    under a file: one line each (``main`` fails with it, exit 2, before training)."""
    afile = tmp_path / "file"
    afile.write_text("x")
    table = tmp_path / "t.md"
    assert leaderboard.usage_problem(3, tmp_path / "runs", table) is None
    for seeds, runs, out, says in ((0, tmp_path, table, "at least 1 seed"),
                                   (-2, tmp_path, table, "at least 1 seed"),
                                   (3, afile, table, "is a file, not a folder"),
                                   (3, tmp_path, tmp_path, "is a folder"),
                                   (3, tmp_path, afile / "t.md", "is a file, not a folder")):
        problem = leaderboard.usage_problem(seeds, runs, out)
        assert problem and says in problem and "\n" not in problem, problem
    (tmp_path / "u.md.json").mkdir()  # the JSON beside the table
    assert "is a folder" in leaderboard.usage_problem(3, tmp_path, tmp_path / "u.md")
