"""A finished run's files and its printed summary.

Files written here (each atomically): predictions.csv, theta.csv,
confusion_matrix.png, theta.png; ``summary_table`` composes the printed summary. The headline selection is the config's;
the other rule is reported beside it, and every optimistic figure says so, as
does every run that feeds the model ground-truth action units (``au_leak_note``).
"""

from __future__ import annotations

import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from faceslueth_jax import atomic_files  # noqa: E402

OPTIMISTIC_NOTE = ("OPTIMISTIC: each fold keeps its best test epoch, so test labels chose "
                   "the model (the references' practice); not an estimate for new subjects")


def au_leak_note(config) -> str | None:
    """The warning a run with model.au_dim > 0 must carry, or None."""
    au_dim = config.model.get("au_dim", 0)
    if not au_dim:
        return None
    return (f"LABEL LEAK: model.au_dim={au_dim} feeds the model each sample's ground-truth FACS "
            "action units from the database's coding sheet, at test time as well as in "
            "training (the reference's practice). The coders' AUs largely determine the "
            "emotion label, so these figures do not estimate recognition from video; "
            "model.au_dim=0 is the honest setting")


def selection_label(result: dict) -> str:
    return f"{result['selection']} (OPTIMISTIC)" if result["optimistic"] else result["selection"]


def write_predictions(workdir, data, fold_names, fold_of, probs) -> None:
    header = ["sample_id", "subject", "dataset", "fold", "label", "prediction"] + [
        f"p_{c}" for c in data.class_names]
    rows = [[data.sample_id[i], data.subject[i], data.dataset[i], fold_names[fold_of[i]],
             data.class_names[data.label[i]], data.class_names[int(probs[i].argmax())]]
            + [f"{p:.6f}" for p in probs[i]] for i in range(len(data))]
    atomic_files.write_csv(pathlib.Path(workdir) / "predictions.csv", header, rows)


def write_theta(workdir, history, fold_names) -> None:
    folds, epochs, layers = history.theta_deg.shape
    rows = [[fold_names[f], e + 1, layer, f"{history.theta_deg[f, e, layer]:.4f}"]
            for f in range(folds) for e in range(epochs) for layer in range(layers)]
    atomic_files.write_csv(pathlib.Path(workdir) / "theta.csv",
                           ["fold", "epoch", "layer", "theta_deg"], rows)


def plot_confusion(workdir, result: dict, class_names) -> None:
    cm = np.array(result["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=30)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{selection_label(result)}\nUF1 {result['uf1']:.3f}  UAR {result['uar']:.3f}",
                 fontsize=9)
    atomic_files.write_figure(pathlib.Path(workdir) / "confusion_matrix.png", fig)
    plt.close(fig)


def plot_theta(workdir, history) -> None:
    theta = history.theta_deg  # (F, E, L)
    epochs = np.arange(1, theta.shape[1] + 1)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for layer in range(theta.shape[2]):
        mean = theta[:, :, layer].mean(0)
        sd = theta[:, :, layer].std(0)
        ax.plot(epochs, mean, label=f"SOA layer {layer}")
        ax.fill_between(epochs, mean - sd, mean + sd, alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("theta (degrees), mean ± sd over folds")
    ax.set_ylim(0, 180)
    ax.axhline(90, color="grey", lw=0.5, ls="--")
    ax.legend(fontsize=8)
    atomic_files.write_figure(pathlib.Path(workdir) / "theta.png", fig)
    plt.close(fig)


def summary_table(title: str, results: list, baseline: dict | None, history,
                  diverged: list, workdir) -> str:
    """The text printed at the end of a run; ``results[0]`` is the headline rule.
    Warnings: diverged folds, optimistic selection, and the AU label leak that the
    run's metrics.json (in ``workdir``) records."""
    lines = [title, "", f"{'selection':<32} {'UF1':>7} {'UAR':>7} {'acc':>7}"]
    for result in results:
        lines.append(f"{selection_label(result):<32} {result['uf1']:7.4f} "
                     f"{result['uar']:7.4f} {result['accuracy']:7.4f}")
    if baseline is not None:
        lines.append(f"{'logistic regression on flow':<32} {baseline['uf1']:7.4f} "
                     f"{baseline['uar']:7.4f} {baseline['accuracy']:7.4f}")
    headline = results[0]
    if "per_group" in headline:
        lines += ["", f"per database ({selection_label(headline)})"]
        for name, s in headline["per_group"].items():
            lines.append(f"  {name:<30} {s['uf1']:7.4f} {s['uar']:7.4f} {s['accuracy']:7.4f}"
                         f"  n={s['num_samples']}")
        m = headline["mean_over_groups"]
        lines.append(f"  {'mean over databases':<30} {m['uf1']:7.4f} {m['uar']:7.4f} "
                     f"{m['accuracy']:7.4f}")
    theta = history.theta_deg[:, -1]  # (F, L) after the last epoch; L = 0 without SOA
    if theta.shape[1]:
        lines += ["", "learned theta per SOA layer after the last epoch (degrees, over folds)"]
    for layer in range(theta.shape[1]):
        lines.append(f"  layer {layer}: mean {theta[:, layer].mean():6.1f}  "
                     f"sd {theta[:, layer].std():5.1f}  "
                     f"range {theta[:, layer].min():6.1f}..{theta[:, layer].max():6.1f}")
    if diverged:
        lines += ["", f"WARNING: {len(diverged)} fold(s) diverged (non-finite loss) and were "
                      f"frozen at their last finite state: {', '.join(diverged)}"]
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
