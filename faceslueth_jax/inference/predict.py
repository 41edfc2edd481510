r"""Classify clips with a trained model folder (the command: ``faceslueth_jax.predict``).

  python -m faceslueth_jax.predict --model=runs/all/model --clip=clip_frames/ \
      [--clip=clip.avi ...] [--onset=0 --apex=4] [--crop=auto|detect|whole] [--out=DIR]

Each clip (a folder of frames, a video, or a folder of clips) goes through the
chain of the model's training records (``clip_input``); all clips are then
classified in batches. One line per clip is printed: the predicted class, every
class's probability, the onset and apex used. With ``--out``: ``predictions.json``
and one attention-and-flow sheet per clip (``pictures``: .png, .pdf and its raw maps
as .npz), written only once every clip succeeded (each file atomically). Bad input:
one line naming the file on stderr, exit 2.
"""

from __future__ import annotations

import pathlib
import sys

import jax
import numpy as np

from faceslueth_jax.evaluation import angles
from faceslueth_jax.inference import clip_input, model_folder, pictures
from faceslueth_jax.inference.command import ON_ERROR
from faceslueth_jax.models.motion_stream import soa_angles_deg


class PredictError(ValueError):
    """Input that predict cannot use (one line naming the file)."""


def _progress(done: int, total: int, what: str) -> None:
    if sys.stderr.isatty() or total > 1:
        width = 24
        bar = "#" * round(width * done / total) + "." * (width - round(width * done / total))
        end = "\n" if done == total else "\r"
        print(f"{what} [{bar}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def stage_angles(model) -> dict:
    """Stage name ('motion/stage<i>') -> axial mean over members of its learned angle."""
    theta = np.asarray(jax.vmap(soa_angles_deg)(model.variables["params"]))  # (M, L)
    if theta.shape[1] == 0:
        return {}
    means = np.atleast_1d(angles.axial_mean(theta, axis=0))
    return {f"motion/stage{i}": float(t) for i, t in enumerate(means)}


def requests_of(paths, onset=None, apex=None) -> list:
    """``clip_input.ClipRequest`` for every clip named: each a path (a clip, or a folder
    of clips, ``clip_input.clip_paths``, taking ``onset``/``apex``) or a request."""
    requests, plain = [], []
    for item in paths:
        if isinstance(item, clip_input.ClipRequest):
            requests.append(item)
        else:
            plain.extend(clip_input.clip_paths([item]))
    if len(plain) > 1 and (onset is not None or apex is not None):
        raise PredictError("--onset and --apex apply to one clip; several were given "
                           "(a CSV of clips, --clips_csv, gives each its own)")
    return [clip_input.ClipRequest(p, onset, apex) for p in plain] + requests


def predict(model, paths, onset=None, apex=None, crop="auto", batch_size=32,
            with_pictures=False, on_error="raise", max_frames=clip_input.MAX_FRAMES):
    """Results (one dict per clip) and, with ``with_pictures``, the sheets
    (``pictures.Sheet``) of the clips that succeeded. ``paths``: see ``requests_of``.
    ``on_error``: 'raise' = the first clip that cannot be used raises its
    ClipInputError; 'skip' = its result is {'clip', 'error'} and the others go on. A
    clip whose frames are taken as the face (crop 'whole') and in whose onset frame
    no face is found gets a 'warning'."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise PredictError(f"batch_size={batch_size!r}: clips per model call must be an "
                           "integer >= 1")
    if model.meta.get("au_dim"):
        raise PredictError(f"{model.meta.get('model')} reads ground-truth action units "
                           "(model.faceslueth_r.au_dim > 0), which a clip does not have")
    requests = requests_of(paths, onset, apex)
    views, flows, faces, facts, failed = [], [], [], [], {}
    for i, request in enumerate(requests):
        try:
            clip = clip_input.read_clip(request.path, max_frames)
            v, raw, face, fact = clip_input.model_inputs(
                [clip], model.meta["chain"], model.config, request.onset, request.apex, crop)
        except clip_input.ClipInputError as e:
            if on_error == "raise":
                raise
            failed[i] = str(e)
        else:
            views.append(v)
            flows.append(raw[0])
            faces.append(face[0])
            facts.extend(fact)
        _progress(i + 1, len(requests), "preparing clips")  # failed clips count as done
    probs, sheets = classify(model, views, flows, faces, facts, batch_size, with_pictures)
    done = iter(zip(facts, probs))
    results = []
    for i, request in enumerate(requests):
        if i in failed:
            results.append({"clip": str(request.path), "error": failed[i]})
            continue
        f, p = next(done)
        result = {
            "clip": f.clip, "predicted": model.class_names[int(p.argmax())],
            "probabilities": {n: float(q) for n, q in zip(model.class_names, p)},
            "num_frames": f.num_frames, "onset": f.onset, "apex": f.apex,
            "apex_spotted": f.apex_spotted, "crop": f.crop, "face_found": f.face_found}
        if not f.face_found:
            result["warning"] = (f"no face found in the onset frame (frame {f.onset}) of "
                                 "frames taken as the face (--crop=whole): the class is not "
                                 "a reading of a face")
        results.append(result)
    return results, sheets


def classify(model, views, flows, faces, facts, batch_size, with_pictures):
    """(N, K) ensemble probabilities of the prepared clips, and their sheets."""
    if not views:
        return np.zeros((0, len(model.class_names))), []
    views = {k: np.concatenate([v[k] for v in views]) for k in views[0]}
    count = len(facts)
    probs, sheets = [], []
    thetas = stage_angles(model) if with_pictures else {}
    for start in range(0, count, batch_size):
        batch = {k: v[start:start + batch_size] for k, v in views.items()}
        if with_pictures:
            logits, maps = model.member_logits(batch, capture_attention=True)
        else:
            logits, maps = model.member_logits(batch), {}
        p = model_folder.ensemble_probabilities(logits)
        probs.append(p)
        for j in range(len(p)) if with_pictures else ():
            k = start + j
            title = (f"{pathlib.Path(facts[k].clip).name}: {model.class_names[p[j].argmax()]} "
                     f"(p {p[j].max():.2f}), onset {facts[k].onset}, apex {facts[k].apex}")
            sheets.append(pictures.Sheet(title, faces[k], flows[k], pictures.stage_maps(maps, j),
                                         thetas, p[j], tuple(model.class_names)))
    return np.concatenate(probs), sheets


def picture_names(results) -> list[str]:
    """One sheet name (<stem>.png; its .pdf and .npz share the stem) per classified clip
    (those without an 'error'), made unique when two clips share a name."""
    names, seen = [], {}
    for r in results:
        if "error" in r:
            continue
        stem = pathlib.Path(r["clip"]).stem or "clip"
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.png" if seen[stem] == 1 else f"{stem}_{seen[stem]}.png")
    return names
