"""A run's files from theta arrays and results built by hand: theta.csv, theta.png,
confusion_matrix.png and the printed summary."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from faceslueth_jax.evaluation import run_files


@pytest.fixture
def figures(monkeypatch):
    """The figures run_files writes, kept open for inspection (and still written)."""
    kept = {}
    save = run_files.figure_style.save

    def keep(figure, path):
        kept[path.name] = figure
        written = save(figure, path)
        assert [p.suffix for p in written] == [".png", ".pdf"]
        return written

    monkeypatch.setattr(run_files.figure_style, "save", keep)
    return kept


def _theta(epoch_means, offsets=(-1.0, 0.0, 1.0)):
    """(folds, epochs, 1): per epoch the folds sit at mean + offset, mod 180."""
    means = np.asarray(epoch_means, float)
    return np.mod(means[None, :] + np.asarray(offsets)[:, None], 180.0)[:, :, None]


def _legend(ax) -> list:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_write_theta_takes_the_array(tmp_path):
    theta = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    run_files.write_theta(tmp_path, theta, ["s1", "s2"])
    with open(tmp_path / "theta.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 3 * 4
    assert rows[-1] == {"fold": "s2", "epoch": "3", "layer": "3", "theta_deg": "23.0000"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_theta_curves_are_circular_and_continuous_across_zero():
    theta = _theta([176.0, 178.0, 0.5, 3.0])  # crosses 180 == 0
    mean, spread = run_files.theta_curves(theta)
    assert mean.shape == spread.shape == (4, 1)
    np.testing.assert_allclose(mean[:, 0], [176.0, 178.0, 180.5, 183.0], atol=1e-9)
    # folds at mean -1, 0, +1: doubled (-2, 0, 2) degrees, R = (1 + 2 cos 2 deg) / 3
    r = (1 + 2 * np.cos(np.radians(2.0))) / 3
    np.testing.assert_allclose(spread[:, 0], np.degrees(np.sqrt(-2 * np.log(r))) / 2)


def test_theta_plot_has_a_title_and_a_continuous_curve_across_zero(tmp_path, figures):
    theta = _theta([176.0, 178.0, 0.5, 3.0])
    run_files.plot_theta(tmp_path, theta, "FaceSleuth-R LOSO on casme2")
    assert (tmp_path / "theta.png").is_file()
    ax = figures["theta.png"].axes[0]
    assert "FaceSleuth-R LOSO on casme2" in ax.get_title()
    curve = [line for line in ax.get_lines() if line.get_label() == "SOA layer 0"][0]
    assert np.abs(np.diff(curve.get_ydata())).max() < 5  # not a jump of 175 degrees
    low, high = ax.get_ylim()
    assert low <= 175.0 and high >= 184.0 and high - low < 40  # zoomed to the data
    # 90 and 88 lie far from these curves: neither drawn nor in the legend
    assert _legend(ax) == ["SOA layer 0"]
    assert all(tick == int(tick) for tick in ax.get_xticks())  # whole epochs


def test_theta_plot_zooms_to_the_data_and_labels_the_reference_lines(tmp_path, figures):
    theta = np.concatenate([_theta([84.0, 86.0, 87.0, 87.5]),
                            _theta([93.0, 92.0, 91.0, 90.5], offsets=(-2.0, 0.0, 2.0))], axis=2)
    run_files.plot_theta(tmp_path, theta, "t")
    ax = figures["theta.png"].axes[0]
    low, high = ax.get_ylim()
    assert 75.0 < low < 83.0 and 94.0 < high < 105.0  # not 0..180
    labels = _legend(ax)
    assert "vertical 90°" in labels and "the paper's claim: ~88°" in labels
    assert {"SOA layer 0", "SOA layer 1"} <= set(labels)
    drawn = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()}
    assert drawn["vertical 90°"] == 90.0 and drawn["the paper's claim: ~88°"] == 88.0


def test_theta_plot_extends_modestly_to_a_near_reference_line(tmp_path, figures):
    run_files.plot_theta(tmp_path, _theta([78.0, 79.0, 80.0]), "t")  # 88 and 90: ~10 deg away
    ax = figures["theta.png"].axes[0]
    low, high = ax.get_ylim()
    assert high >= 90.0 and high - low < 30
    assert {"vertical 90°", "the paper's claim: ~88°"} <= set(_legend(ax))


def test_theta_plot_far_from_the_reference_lines_keeps_its_zoom(tmp_path, figures):
    run_files.plot_theta(tmp_path, _theta([30.0, 31.0, 32.0]), "t")
    ax = figures["theta.png"].axes[0]
    low, high = ax.get_ylim()
    assert high < 60.0
    assert not any(line.get_label().startswith(("vertical", "paper"))
                   for line in ax.get_lines() if len(line.get_ydata()) and
                   line.get_visible())
    assert _legend(ax) == ["SOA layer 0"]


@pytest.mark.parametrize("rule, optimistic, name", [
    ("last_epoch", False, "last epoch (honest)"),
    ("best_test_epoch", True, "best test epoch (OPTIMISTIC)")])
def test_confusion_matrix_title_names_run_and_rule(tmp_path, figures, rule, optimistic, name):
    result = dict(selection=rule, optimistic=optimistic, uf1=0.5, uar=0.25,
                  confusion_matrix=[[1, 0], [1, 0]])
    run_files.plot_confusion(tmp_path, result, ["negative", "positive"],
                             "FaceSleuth-R compact, casme2, LOSO")
    title = figures["confusion_matrix.png"].axes[0].get_title()
    assert "FaceSleuth-R compact, casme2, LOSO" in title
    assert name in title and "UF1 0.500" in title and "UAR 0.250" in title
    assert rule not in title  # no raw rule identifiers


def _summary(tmp_path, theta):
    result = dict(selection="last_epoch", optimistic=False, uf1=0.5, uar=0.5, accuracy=0.5)
    return run_files.summary_table("t", [result], None, theta, None, tmp_path)


def test_summary_reports_circular_statistics_of_theta(tmp_path):
    theta = np.zeros((2, 3, 2))
    theta[:, -1, 0] = [2.0, 178.0]
    theta[:, -1, 1] = [80.0, 100.0]
    text = _summary(tmp_path, theta)
    assert "circular" in text
    layer0 = [line for line in text.splitlines() if "layer 0:" in line][0]
    layer1 = [line for line in text.splitlines() if "layer 1:" in line][0]
    assert "mean   0.0" in layer0 and "spread   2.0" in layer0 and "R 0.998" in layer0
    assert "178.0..2.0" in layer0  # the folds' range, through 0
    assert "mean  90.0" in layer1 and "spread  10.1" in layer1 and "80.0..100.0" in layer1


def test_summary_without_soa_layers(tmp_path):
    assert "theta" not in _summary(tmp_path, None)
    assert "theta" not in _summary(tmp_path, np.zeros((2, 3, 0)))


def test_what_diverged_folds_contribute_is_stated(tmp_path):
    """The account names each diverged fold, its epoch and test samples, and counts
    non-finite test logits; the summary says how those samples are scored."""
    import types

    from faceslueth_jax.evaluation import run_results
    from faceslueth_jax.train import protocols
    folds = protocols.folds_from_groups(np.array([0, 1, 1, 2, 2, 2]))
    flags = np.zeros((3, 4), bool)
    flags[1, 2:] = True  # fold 1 diverged in its third epoch
    logits = np.zeros((3, 4, 3, 3), np.float32)
    logits[2, 0, 1] = np.nan
    logits[2, 3, 1] = np.inf  # the same sample at another epoch: counted once
    history = types.SimpleNamespace(diverged=flags, test_logits=logits)
    account = run_results.diverged_account(history, folds, list(folds.names))
    name = folds.names[1]
    assert account["folds"] == [name] and account["epoch"] == {name: 3}
    assert account["test_samples"] == 2 and account["non_finite_test_logits"] == 1
    text = run_files.summary_table("t", [dict(selection="last_epoch", optimistic=False, uf1=0.5,
                                              uar=0.5, accuracy=0.5)], None, None, account,
                                   tmp_path)
    assert f"1 fold(s) diverged ({name}); their 2 test samples are scored" in text
    assert "weights it had before the step that diverged" in text
    assert "1 test sample(s) have non-finite logits" in text


def _seeds(num_seeds: int) -> dict:
    """A result's ``seeds`` entry (``seed_scores``) over ``num_seeds`` seeds."""
    return dict(num_seeds=num_seeds, uf1=dict(std=0.01, ci95=[0.4, 0.6]),
                uar=dict(std=0.02, ci95=[0.45, 0.55]))


@pytest.mark.parametrize("num_seeds", [1, 3])
def test_the_summary_and_the_page_promise_a_std_over_seeds_only_with_several(tmp_path,
                                                                             num_seeds):
    from faceslueth_jax.evaluation import run_page
    result = dict(selection="last_epoch", optimistic=False, uf1=0.5, uar=0.5, accuracy=0.5,
                  seeds=_seeds(num_seeds))
    text = run_files.summary_table("t", [result], None, None, None, tmp_path)
    header = text.splitlines()[2]
    row = text.splitlines()[3]
    page = run_page.page(tmp_path, {"model": "m", "headline": result, "selection": "last_epoch"},
                         [])
    if num_seeds == 1:
        assert "std" not in header and "UF1 [95% CI]" in header and "±" not in row
        assert "std over seeds" not in page
    else:
        assert "UF1 ± std over seeds [95% CI]" in header and "± 0.0100" in row
        assert "± std over seeds [95% subject-bootstrap CI]" in page


def _renderer(fig):
    """A renderer of ``fig`` (saved, so closed: its canvas is given back)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    return FigureCanvasAgg(fig).get_renderer()


def _data_area_overlaps(fig, artist) -> bool:
    """Whether ``artist`` (drawn) covers any part of an axes' data area."""
    renderer = _renderer(fig)
    box = artist.get_window_extent(renderer)
    return any(box.overlaps(ax.bbox) for ax in fig.axes)


def _tick_sizes(fig) -> set:
    return {label.get_fontsize() for ax in fig.axes
            for label in ax.get_xticklabels() + ax.get_yticklabels()}


def test_theta_legend_sits_off_the_curves_and_the_reference_lines(tmp_path, figures):
    theta = np.concatenate([_theta([84.0, 86.0, 87.0, 87.5]),
                            _theta([93.0, 92.0, 91.0, 90.5], offsets=(-2.0, 0.0, 2.0))], axis=2)
    run_files.plot_theta(tmp_path, theta, "FaceSleuth-R LOSO on casme2")
    fig = figures["theta.png"]
    assert len(_legend(fig.axes[0])) == 4
    assert not _data_area_overlaps(fig, fig.axes[0].get_legend())
    assert len(_tick_sizes(fig)) == 1


def test_learning_curve_legend_sits_off_the_curves_and_its_axes_share_a_tick_size(
        tmp_path, monkeypatch):
    from faceslueth_jax.evaluation import curves
    kept = {}
    save = curves.figure_style.save
    monkeypatch.setattr(curves.figure_style, "save",
                        lambda figure, path: kept.setdefault("fig", figure) and save(figure, path))
    metrics = {"loss_per_fold_epoch": [[1.4, 1.2, 1.0], [1.5, 1.1, 0.9]],
               "learning_curve": {"uf1": [0.3, 0.45, 0.5], "uar": [0.3, 0.4, 0.5]}}
    curves.plot(tmp_path, metrics, "FaceSleuth-R LOSO on synthetic_me: 8 samples, 3 folds")
    fig = kept["fig"]
    assert len(fig.axes) == 2  # the loss (left) and the UF1 (right) axes
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["training loss",
                                                         "pooled test UF1 (diagnostic)"]
    assert not _data_area_overlaps(fig, legend)
    assert len(_tick_sizes(fig)) == 1
    assert (tmp_path / "learning_curve.png").is_file()


@pytest.mark.parametrize("title", ["FaceSleuth-R compact, casme2, LOSO",
                                   "FaceSleuth-R LOSO on synthetic_me: 8 samples, 3 folds, "
                                   "2 epochs, with a long tail of words"])
def test_confusion_matrix_has_no_empty_margin_beside_it(tmp_path, figures, title):
    """The title is no wider than the matrix with its labels, so the saved figure is."""
    result = dict(selection="last_epoch", optimistic=False, uf1=0.472, uar=0.583,
                  confusion_matrix=[[3, 0, 1], [1, 0, 1], [0, 0, 2]])
    run_files.plot_confusion(tmp_path, result, ["negative", "positive", "surprise"], title)
    fig = figures["confusion_matrix.png"]
    ax = fig.axes[0]
    renderer = _renderer(fig)
    drawn = ax.get_tightbbox(renderer)  # the matrix, its labels and the title
    ax.title.set_visible(False)
    matrix = ax.get_tightbbox(renderer)  # without the title
    assert drawn.width <= matrix.width + 1, (drawn.width, matrix.width)
    assert " ".join(ax.get_title().split()) == " ".join(
        f"{title}\nlast epoch (honest): UF1 0.472  UAR 0.583".split())  # wrapped, whole
    assert len(_tick_sizes(fig)) == 1
