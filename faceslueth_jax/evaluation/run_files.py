"""A finished run's files and its printed summary.

Files written here (each atomically): predictions.csv, probabilities.npz,
theta.csv, the confusion matrices and theta.png (each figure also as PDF,
``figure_style``); ``summary_table`` composes the printed summary.
The headline selection is the config's; the other rule is reported beside it,
and every optimistic figure says so, as does the summary of every run whose
metrics.json records an AU label leak. Learned SOA angles theta_deg
(folds, epochs, layers) are axes in [0, 180): they are summarised over folds by
axial circular statistics (``angles``), never by a plain mean.
"""

from __future__ import annotations

import json
import pathlib
import zipfile

import numpy as np
from matplotlib.ticker import MaxNLocator

from faceslueth_jax import atomic_files
from faceslueth_jax.evaluation import angles, figure_style, metrics, seed_scores, selection
from faceslueth_jax.train.protocols import subject_keys

OPTIMISTIC_NOTE = ("OPTIMISTIC: each fold keeps its best test epoch, so test labels chose "
                   "the model (the references' practice); not an estimate for new subjects")


def selection_label(result: dict) -> str:
    return f"{result['selection']} (OPTIMISTIC)" if result["optimistic"] else result["selection"]


def write_predictions(workdir, data, fold_names, fold_of, probs) -> None:
    header = ["sample_id", "subject", "dataset", "fold", "label", "prediction"] + [
        f"p_{c}" for c in data.class_names]
    rows = [[data.sample_id[i], data.subject[i], data.dataset[i], fold_names[fold_of[i]],
             data.class_names[data.label[i]], data.class_names[int(probs[i].argmax())]]
            + [f"{p:.6f}" for p in probs[i]] for i in range(len(data))]
    atomic_files.write_csv(pathlib.Path(workdir) / "predictions.csv", header, rows)


def instance_names(fold_names, seeds) -> list:
    """A name per trained model: the fold's, with '@seed<s>' when there are several seeds."""
    if len(seeds) == 1:
        return list(fold_names)
    return [f"{name}@seed{s}" for s in seeds for name in fold_names]


def write_probabilities(workdir, data, seeds, probabilities: dict) -> None:
    """probabilities.npz: per selection rule, (M, N, K) class probabilities of every
    seed for every sample, with the sample ids, labels, subject keys and seeds, so
    two runs can be compared pair-wise (``report --compare``)."""
    atomic_files.write_npz(
        pathlib.Path(workdir) / "probabilities.npz", sample_id=np.asarray(data.sample_id, str),
        label=np.asarray(data.label), subject=subject_keys(data.dataset, data.subject),
        dataset=np.asarray(data.dataset, str), class_names=np.asarray(data.class_names, str),
        seeds=np.asarray(seeds), **{f"probs_{rule}": p for rule, p in probabilities.items()})


NESTED_FILE = "nested.npz"


def read_npz(path, error: type, missing: str) -> dict:
    """Every array of a run's .npz file; a missing or damaged file raises ``error`` with
    one line naming it (``missing``: what writes it)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise error(f"{path}: missing ({missing})")
    try:
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise error(f"{path}: unreadable ({e})") from e


def write_nested(workdir, data, folds, history, chosen: list, linear_validation=None,
                 linear_test=None) -> None:
    """nested.npz of a nested run, what ensembles chosen on inner validation read
    (``evaluation.ensembles``): per seed s, the epoch e*_f chosen for each outer fold
    (``chosen``: (F,) a seed; ``epochs`` (S, F), 0-based), the test probabilities at it
    (``test`` (S, N, K)) and the inner folds' validation probabilities of T_f at it
    (``validation`` (S, F, N, K), NaN outside T_f); the same at the last epoch for every
    fold (``test_last``, ``validation_last``); with ``train.test_flip`` the same of the
    mirrored rows (``test_flipped``, ``validation_flipped``, ``test_flipped_last``,
    ``validation_flipped_last``); the tuned linear model's validation and test
    probabilities (``linear_validation`` (F, N, K), ``linear_test`` (N, K)) when the
    baseline ran; ``fold_of`` (N,), the outer fold that tests each sample."""
    seeds = history.per_seed()
    last = [np.full(folds.num_folds, history.loss.shape[1] - 1)] * len(seeds)
    arrays = {"epochs": list(chosen)}
    for suffix, per_seed in (("", chosen), ("_last", last)):
        for h, epochs in zip(seeds, per_seed):
            for flip, name in ((False, ""), (True, "_flipped")):
                if flip and h.test_logits_flipped is None:
                    continue
                fold_of, probs = selection.predictions(h, folds, epochs, len(data),
                                                       flipped=flip)
                arrays.setdefault(f"test{name}{suffix}", []).append(probs)
                arrays.setdefault(f"validation{name}{suffix}", []).append(
                    selection.validation_probs(h, epochs, len(data), flipped=flip))
    extra = {}
    if linear_validation is not None and linear_test is not None:
        extra = {"linear_validation": selection.softmax(linear_validation),
                 "linear_test": selection.softmax(linear_test)}
    atomic_files.write_npz(
        pathlib.Path(workdir) / NESTED_FILE, sample_id=np.asarray(data.sample_id, str),
        label=np.asarray(data.label), subject=subject_keys(data.dataset, data.subject),
        dataset=np.asarray(data.dataset, str), class_names=np.asarray(data.class_names, str),
        seeds=np.asarray(history.seeds), fold_of=fold_of,
        **{k: np.stack(v) for k, v in arrays.items()}, **extra)


def write_theta(workdir, theta_deg, fold_names) -> None:
    """theta.csv: one row per fold, epoch and SOA layer of ``theta_deg`` (F, E, L)."""
    theta_deg = np.asarray(theta_deg)
    folds, epochs, layers = theta_deg.shape
    rows = [[fold_names[f], e + 1, layer, f"{theta_deg[f, e, layer]:.4f}"]
            for f in range(folds) for e in range(epochs) for layer in range(layers)]
    atomic_files.write_csv(pathlib.Path(workdir) / "theta.csv",
                           ["fold", "epoch", "layer", "theta_deg"], rows)


def rule_title(result: dict) -> str:
    """The selection rule in words: 'last epoch (honest)', 'best test epoch (OPTIMISTIC)'."""
    return selection.RULE_TITLES.get(result["selection"], selection_label(result))


def confusion_name(database: str | None = None) -> str:
    """confusion_matrix.png, or confusion_matrix_<database>.png for one database."""
    return "confusion_matrix.png" if database is None else f"confusion_matrix_{database}.png"


@figure_style.styled
def plot_confusion(workdir, result: dict, class_names, title: str,
                   database: str | None = None) -> list:
    """The confusion matrix of ``result`` (its ``confusion_matrix``) as PNG and PDF:
    pooled, or of one ``database``. ``title``: the run (model, data, protocol), above
    the scope, the rule in words and its UF1 / UAR, wrapped to the matrix's width
    (labels included) so the figure has no empty margin."""
    cm = np.array(result["confusion_matrix"])
    fig, ax = figure_style.figure(figsize=(3.6, 3.3))
    ax.imshow(cm, cmap=figure_style.COUNTS, vmin=0)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=30, ha="right",
                  rotation_mode="anchor")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.spines[:].set_visible(False)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    scope = f"{database}, " if database else ""
    figure_style.title_and_legend(ax, f"{title}\n{scope}{rule_title(result)}: UF1 "
                                      f"{result['uf1']:.3f}  UAR {result['uar']:.3f}")
    return figure_style.save(fig, pathlib.Path(workdir) / confusion_name(database))


def plot_confusions(workdir, result: dict, data, predicted, title: str) -> list:
    """The pooled confusion matrix of ``result`` and, with several databases, one per
    database from the headline's ``predicted`` classes (PNG and PDF each)."""
    written = plot_confusion(workdir, result, data.class_names, title)
    databases = sorted(set(np.asarray(data.dataset).tolist()))
    if len(databases) > 1:
        for name in databases:
            mask = np.asarray(data.dataset) == name
            cm = metrics.confusion_matrix(np.asarray(data.label)[mask], predicted[mask],
                                          len(data.class_names))
            part = dict(metrics.scores(cm), selection=result["selection"],
                        optimistic=result["optimistic"])
            written += plot_confusion(workdir, part, data.class_names, title, database=name)
    return written


# Reference orientations on theta.png: (degrees, legend label, line style).
THETA_REFERENCES = ((90.0, "vertical 90°", dict(color=figure_style.REFERENCE, ls="--")),
                    (88.0, "the paper's claim: ~88°", dict(color=figure_style.COLOURS[1],
                                                          ls=":")))
MAX_PLOTTED_SPREAD = 90.0  # a wider axial spread means the folds agree no better than chance


def theta_curves(theta_deg) -> tuple[np.ndarray, np.ndarray]:
    """Per epoch and layer of ``theta_deg`` (F, E, L): the circular mean over folds,
    unwrapped along the epochs (a curve crossing 0/180 stays continuous) and shifted
    by a multiple of 180 so its midpoint lies in [0, 180); and the circular spread
    over folds, capped at 90 degrees. Both (E, L)."""
    mean, spread, _ = angles.axial_stats(np.asarray(theta_deg, np.float64), axis=0)
    mean = angles.unwrap(mean, axis=0)
    midpoint = (mean.max(0) + mean.min(0)) / 2
    mean = mean - angles.PERIOD * np.floor(midpoint / angles.PERIOD)
    return mean, np.minimum(spread, MAX_PLOTTED_SPREAD)


def theta_axis(low: float, high: float, references=THETA_REFERENCES):
    """The y range of theta.png for data in [low, high], and which reference lines
    it shows. The range is the data's with a margin of max(1, 8% of the span)
    degrees; a reference line (its copy, mod 180, nearest the data) within
    max(10 degrees, half that range) of it extends the range to include it, one
    further away is left off the axes. Returns ((y0, y1), [(degrees, label,
    style) drawn], [(label, style) off scale])."""
    margin = max(1.0, 0.08 * (high - low))
    y0, y1 = low - margin, high + margin
    reach = max(10.0, 0.5 * (y1 - y0))
    centre = (low + high) / 2
    drawn, off_scale = [], []
    for degrees, label, style in references:
        nearest = degrees + angles.PERIOD * round((centre - degrees) / angles.PERIOD)
        if y0 - reach <= nearest <= y1 + reach:
            drawn.append((nearest, label, style))
        else:
            off_scale.append((label, style))
    for degrees, _, _ in drawn:
        y0, y1 = min(y0, degrees - margin), max(y1, degrees + margin)
    return (y0, y1), drawn, off_scale


@figure_style.styled
def plot_theta(workdir, theta_deg, title: str) -> list:
    """theta.png and .pdf: per SOA layer, the circular mean ± circular spread over folds
    of ``theta_deg`` (F, E, L) per epoch (``theta_curves``), on a y axis zoomed to the
    data (``theta_axis``), with the reference orientations it reaches drawn and named
    (the vertical axis; the paper's claimed ~88°); integer epoch ticks; the legend under
    the axes, off the curves and the reference lines."""
    mean, spread = theta_curves(theta_deg)
    epochs = np.arange(1, mean.shape[0] + 1)
    fig, ax = figure_style.figure(figsize=(5.0, 3.2))
    for layer in range(mean.shape[1]):
        ax.plot(epochs, mean[:, layer], label=f"SOA layer {layer}")
        ax.fill_between(epochs, mean[:, layer] - spread[:, layer],
                        mean[:, layer] + spread[:, layer], alpha=0.2, lw=0)
    (y0, y1), drawn, _ = theta_axis(float((mean - spread).min()),
                                    float((mean + spread).max()))
    for degrees, label, style in drawn:
        ax.axhline(degrees, lw=0.8, label=label, **style)
    ax.set_ylim(y0, y1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"θ (degrees, mod 180)\ncircular mean ± spread over {np.shape(theta_deg)[0]} "
                  "folds")
    figure_style.title_and_legend(ax, f"{title}\nlearned SOA orientation per layer",
                                  *ax.get_legend_handles_labels())
    return figure_style.save(fig, pathlib.Path(workdir) / "theta.png")


def theta_lines(theta_deg) -> list:
    """The summary's lines on theta after the last epoch: per layer the circular mean,
    spread and resultant length R over folds (``angles``), and the folds' range
    (from the mean's most negative to its most positive axial deviation)."""
    if theta_deg is None or np.shape(theta_deg)[2] == 0:  # no SOA layers (HTNet, FDP)
        return []
    final = np.asarray(theta_deg, np.float64)[:, -1]  # (F, L)
    mean, spread, r = angles.axial_stats(final, axis=0)
    lines = ["", "learned theta per SOA layer after the last epoch (degrees; axial circular "
                 "statistics over folds)"]
    for layer in range(final.shape[1]):
        if not np.isfinite(mean[layer]):
            lines.append(f"  layer {layer}: no mean direction (R = 0)")
            continue
        deviation = angles.axial_deviation(final[:, layer], mean[layer])
        lines.append(
            f"  layer {layer}: circular mean {float(angles.format_axis(mean[layer])):5.1f}  "
            f"spread {spread[layer]:5.1f}  R {r[layer]:.3f}  "
            f"folds {angles.format_axis(mean[layer] + deviation.min())}.."
            f"{angles.format_axis(mean[layer] + deviation.max())}")
    return lines


def uncertainty_text(result: dict, metric: str) -> str:
    """' ± std [low, high]' of a result's ``seeds`` entry (``seed_scores``)."""
    return seed_scores.uncertainty_text(result.get("seeds"), metric)


def baseline_label(baseline: dict) -> str:
    """'logistic regression on <features>[, inner CV]' of a run's baseline entry."""
    fit = baseline.get("fit") or {}
    features = {"flow": "flow", "mdmo": "MDMO", "lbp_top": "LBP-TOP"}.get(
        fit.get("features", "flow"), fit.get("features"))
    return (f"logistic regression on {features}"
            + (", inner CV" if fit.get("tuning", "fixed") == "inner_cv" else ""))


def result_label(result: dict) -> str:
    """The selection rule, and 'mean of M seeds' or 'ensemble of M seeds' when so."""
    label = selection_label(result)
    if "ensemble_of_seeds" in result:
        return f"{label}, ensemble of {len(result['ensemble_of_seeds'])} seeds"
    if "per_seed" in result:
        return f"{label}, mean of {len(result['per_seed'])} seeds"
    return label


def several_seeds(results) -> bool:
    """Whether any of ``results`` (None entries ignored) is scored over several seeds,
    so that its scores carry a std over seeds (``seed_scores.uncertainty_text``)."""
    return any((r.get("seeds") or {}).get("num_seeds", 1) > 1 for r in results if r)


def summary_table(title: str, results: list, baseline: dict | None, theta_deg,
                  divergence: dict | None, workdir, ensembles: list = ()) -> str:
    """The text printed at the end of a run; ``results[0]`` is the headline rule;
    ``theta_deg``: (F, E, L) or None without SOA layers; ``divergence``:
    ``run_results.diverged_account`` (None: nothing diverged); ``ensembles``: the seed
    ensembles' results (several seeds). UF1 and UAR carry the 95% subject-bootstrap
    interval and, with several seeds, ± the std over seeds (``seed_scores``); the
    header says ± std only then.
    Warnings: diverged folds, optimistic selection, and the AU label leak that the
    run's metrics.json (in ``workdir``) records."""
    spread = "UF1 ± std over seeds [95% CI]" if several_seeds(
        list(results) + list(ensembles) + [baseline]) else "UF1 [95% CI]"
    lines = [title, "", f"{'selection':<52} {'UF1':>7} {'UAR':>7} {'acc':>7}   "
                        f"{spread}; UAR likewise"]
    for result in list(results) + list(ensembles):
        lines.append(f"{result_label(result):<52} {result['uf1']:7.4f} "
                     f"{result['uar']:7.4f} {result['accuracy']:7.4f}  "
                     f"{uncertainty_text(result, 'uf1')};{uncertainty_text(result, 'uar')}")
    if baseline is not None:
        name = baseline_label(baseline)
        lines.append(f"{name:<52} {baseline['uf1']:7.4f} {baseline['uar']:7.4f} "
                     f"{baseline['accuracy']:7.4f}  {uncertainty_text(baseline, 'uf1')};"
                     f"{uncertainty_text(baseline, 'uar')}")
    headline = results[0]
    if "per_group" in headline:
        lines += ["", f"per database ({result_label(headline)})"]
        for name, s in headline["per_group"].items():
            group = {"seeds": headline.get("seeds", {}).get("per_group", {}).get(name)}
            lines.append(f"  {name:<30} {s['uf1']:7.4f} {s['uar']:7.4f} {s['accuracy']:7.4f}"
                         f"  n={s['num_samples']}  {uncertainty_text(group, 'uf1')};"
                         f"{uncertainty_text(group, 'uar')}")
        m = headline["mean_over_groups"]
        lines.append(f"  {'mean over databases':<30} {m['uf1']:7.4f} {m['uar']:7.4f} "
                     f"{m['accuracy']:7.4f}")
    lines += theta_lines(theta_deg)
    divergence = divergence or {"folds": [], "non_finite_test_logits": 0}
    if divergence["folds"]:
        diverged = divergence["folds"]
        lines += ["", f"WARNING: {len(diverged)} fold(s) diverged ({', '.join(diverged)}); "
                      f"their {divergence['test_samples']} test samples are scored: "
                      f"{divergence['scoring']}"]
    if divergence["non_finite_test_logits"]:
        lines += ["", f"WARNING: {divergence['non_finite_test_logits']} test sample(s) have "
                      "non-finite logits at some epoch; where a selection rule picks such an "
                      "epoch they are scored as class 0"]
    if any(r["optimistic"] for r in results):
        lines += ["", OPTIMISTIC_NOTE]
    leak = _recorded_au_leak_note(workdir)
    if leak:
        lines += ["", leak]
    lines += ["", f"results: {pathlib.Path(workdir).resolve()}"]
    return "\n".join(lines)


def _recorded_au_leak_note(workdir) -> str | None:
    """The run's ``au_leak_note`` as its metrics.json records it (written before the
    summary), so the printed summary warns exactly when the file does."""
    path = pathlib.Path(workdir) / "metrics.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("au_leak_note")
