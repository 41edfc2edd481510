"""Stage 1 of a run: the config resolved and validated at once, before any data is
built or anything compiled. Every check raises ``ConfigError`` naming the field."""

from __future__ import annotations

import dataclasses
import math

from faceslueth_jax import cli
from faceslueth_jax.data import augment, records, sources
from faceslueth_jax.evaluation import baseline, selection
from faceslueth_jax.models import registry
from faceslueth_jax.train import fold_step, protocols
from faceslueth_jax.train import sweep as sweep_lib
from tfds_builders import registry as builders
from tfds_builders.action_units import AU_DIM
from tfds_builders.me_database import MEConfig

PRECISIONS = ("highest", "default")
DTYPES = ("float32", "bfloat16")


class ConfigError(ValueError):
    """A config field has a value that cannot work; the message names the field."""


# numeric fields and the least value each may take (an int field must hold an int)
AT_LEAST = {"train.epochs": 1, "train.batch_size": 1, "checkpoint.every_epochs": 1,
            "checkpoint.keep": 1, "checkpoint.min_seconds": 0.0, "data.flow_size": 1,
            "data.face_size": 1, "max_folds_per_chunk": 0, "device_memory_bytes": 0,
            "train.scan_unroll": 0, "train.max_shift_fraction": 0.0,
            "train.optimizer.weight_decay": 0.0, "train.optimizer.eps": 0.0,
            "mesh.fold": 0, "mesh.data": 0, "mesh.num_devices": 0, "seed": 0,
            "protocol.seeds": 1, "protocol.nested.inner_folds": 2,
            "train.optimizer.theta_lr": 0.0,
            "train.optimizer.theta_weight_decay": 0.0, "train.optimizer.decay_epochs": 0,
            "train.mixup_alpha": 0.0, "train.rotation_deg": 0.0, "train.crop_padding": 0,
            "data.synthetic.seed": 0, "data.synthetic.num_subjects": 1,
            "data.synthetic.clips_per_subject": 1, "data.synthetic.size": 32,
            "data.synthetic.clip_frames": 0, "data.synthetic.clip_length": 3,
            "data.build.jitter_frames": 0, "data.build.clip_frames": 0,
            "report.attention_samples": 0, "report.timelines": 0, "bootstrap_draws": 1,
            "data.max_side": 8}
# fields with an upper bound too: (low, high, whether low itself is allowed)
WITHIN = {"train.optimizer.gamma": (0.0, 1.0, False), "train.max_shift_fraction": (0.0, 0.5, True),
          "train.label_smoothing": (0.0, 1.0, True), "train.ema_decay": (0.0, 1.0, True),
          "train.rotation_deg": (0.0, 180.0, True), "data.synthetic.peak_scale": (0.0, 100.0, False),
          "data.synthetic.micro_fraction": (0.0, 1.0, True),
          "train.max_diverged_share": (0.0, 1.0, True)}
# fields that must stay below their upper bound (not reach it)
BELOW_HIGH = ("train.label_smoothing", "train.ema_decay")
POSITIVE = ("train.optimizer.lr", "data.synthetic.fps")
# a side larger than this (pixels) is refused unless data.max_side is raised: one
# 100000-px face would abort XLA itself rather than raise
MAX_SIDE = 1024
SIDES = ("data.flow_size", "data.face_size", "data.build.flow_size", "data.build.face_size",
         "data.synthetic.size")


def _field(config, dotted: str):
    node = config
    for key in dotted.split("."):
        if not hasattr(node, "keys") or key not in node:
            return None
        node = node[key]
    return node


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_finite(config) -> None:
    """ValueError naming the first number field (at any depth, in tuples too) that is
    NaN or infinite: no config field means anything at either."""
    for field, value in cli.config_leaves(config):
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            if _is_number(v) and not math.isfinite(v):
                raise ValueError(f"{field} must be a finite number, got {value!r}")


def check_numbers(config) -> None:
    """ValueError naming the field for a numeric field out of its range (AT_LEAST,
    WITHIN, POSITIVE, MAX_SIDE), a dropout outside [0, 1), and for record options the
    builders cannot make (``MEConfig.named``)."""
    check_finite(config)
    for field, least in AT_LEAST.items():
        value = _field(config, field)
        if value is None:
            continue
        kind = int if isinstance(least, int) else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or value < least:
            what = "an integer" if kind is int else "a number"
            raise ValueError(f"{field} must be {what} >= {least}, got {value!r}")
    for field, (low, high, low_allowed) in WITHIN.items():
        value = _field(config, field)
        if value is None:
            continue
        above = value >= low if low_allowed else value > low
        below = value < high if field in BELOW_HIGH else value <= high
        if not (_is_number(value) and above and below):
            bounds = ("[" if low_allowed else "(") + f"{low:g}, {high:g}" + (
                ")" if field in BELOW_HIGH else "]")
            raise ValueError(f"{field} must be in {bounds}, got {value!r}")
    for field in POSITIVE:
        value = _field(config, field)
        if value is not None and not (_is_number(value) and value > 0):
            raise ValueError(f"{field} must be a number > 0, got {value!r}")
    optimizer = _field(config, "train.optimizer")
    if optimizer is not None and optimizer.get("decay_epochs") == 0 and optimizer.get(
            "gamma", 1.0) != 1.0:
        raise ValueError(f"train.optimizer.decay_epochs=0 never applies gamma="
                         f"{optimizer.gamma}: set decay_epochs >= 1, or gamma=1.0 for a "
                         "constant learning rate")
    for field, value in cli.config_leaves(config.get("model") or {}, "model."):
        if field.rsplit(".", 1)[-1] in ("dropout", "drop_path_rate") and not (
                _is_number(value) and 0.0 <= value < 1.0):
            raise ValueError(f"{field} must be in [0, 1), got {value!r}")
    max_side = config.get("data", {}).get("max_side", MAX_SIDE)
    for field in SIDES:
        value = _field(config, field)
        if _is_number(value) and value > max_side:
            raise ValueError(f"{field}={value} is over the largest side allowed, {max_side} "
                             f"pixels: set --config.data.max_side to allow more")
    if any(n in builders.DATABASE_BUILDERS for n in sources.database_names(config.data)):
        fields = {f.name for f in dataclasses.fields(MEConfig)}
        build = {k: v for k, v in dict(config.data.get("build") or {}).items() if k in fields}
        try:
            MEConfig.named(**build)
        except (TypeError, ValueError) as e:
            raise ValueError(f"data.build: {e}") from None


def check_config(config) -> None:
    """Reject misspelt choices and options that cannot work together before any data
    is built or any epoch is trained (ConfigError naming the field)."""
    if config.get("task") == "spotting":
        from faceslueth_jax.spotting import experiment
        try:
            check_numbers(config)
            experiment.check_config(config)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        return
    choices = {"protocol.name": (config.protocol.name, protocols.PROTOCOLS),
               "protocol.selection": (config.protocol.selection, selection.RULES),
               "data.flow_norm": (config.data.flow_norm, records.FLOW_NORMS),
               "data.face_norm": (config.data.get("face_norm", "standardise"), records.FACE_NORMS),
               "train.augment_recipe": (config.train.get("augment_recipe", "shift"),
                                        augment.RECIPES),
               "train.last_batch": (config.train.get("last_batch", "fill"),
                                    fold_step.LAST_BATCH),
               "baseline.tuning": (config.baseline.get("tuning", "inner_cv"),
                                   baseline.TUNINGS),
               "baseline.features": (config.baseline.get("features", "flow"),
                                     tuple(baseline.FEATURES)),
               "train.precision": (config.train.get("precision", "highest"), PRECISIONS),
               "train.compute_dtype": (config.train.get("compute_dtype", "float32"), DTYPES),
               "train.device_views": (config.train.get("device_views", "float32"), DTYPES),
               "layout": (config.get("layout", "auto"), sweep_lib.LAYOUTS),
               "conv_formulation": (config.get("conv_formulation", ""), ("", "xla", "matmul"))}
    try:
        check_numbers(config)
        for field, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"{field} must be one of {allowed}, got {value!r}")
        if config.get("report", {}).get("attention_samples", 0) and not config.get(
                "model_folder", True):
            raise ValueError("report.attention_samples needs model_folder=True (the pictures "
                             "are drawn with the fold models)")
        if config.protocol.selection == "nested":
            if config.protocol.name in ("all", "cross"):
                raise ValueError(f"protocol.selection='nested' takes protocol.name 'loso' or "
                                 f"'lodo', got {config.protocol.name!r}")
        if config.protocol.name == "cross" and not (config.protocol.get("train")
                                                    and config.protocol.get("test")):
            raise ValueError("protocol.name='cross' needs protocol.train and protocol.test "
                             "(database names, e.g. ('casme2',) and ('samm',))")
        build = config.data.get("build") or {}
        if (config.data.get("face_norm") == "imagenet" and not build.get("face_color", False)
                and any(n in builders.DATABASE_BUILDERS
                        for n in sources.database_names(config.data))):
            raise ValueError("data.face_norm='imagenet' needs RGB faces: set "
                             "data.build.face_color=True")
        synthetic = config.data.get("synthetic") or {}
        if (config.protocol.name == "loso" and config.data.name == "synthetic_me"
                and not config.data.get("names") and synthetic.get("num_subjects", 2) < 2):
            raise ValueError(f"protocol.name='loso' leaves one subject out per fold, so it needs "
                             f"at least two: data.synthetic.num_subjects="
                             f"{synthetic.num_subjects}")
        registry.check_config(config.model)
        check_data_needs(config)
    except ConfigError:
        raise
    except ValueError as e:
        raise ConfigError(str(e)) from None


def check_data_needs(config) -> None:
    """What the model asks of the data and the recipe: jitter windows and the
    reference's face-only augmentation need a model that reads faces, not flow; action
    units need databases whose sheets code them, as the records' multi-hot vector."""
    needed = registry.faces_only(config.model)
    if needed:
        if (config.data.get("build") or {}).get("jitter_frames", 0):
            raise ValueError("data.build.jitter_frames > 0 jitters the onset and apex faces, "
                             "but the flow is computed once from the sheet's onset and apex: "
                             f"it needs {needed}")
        if config.train.get("augment_recipe", "shift") == "reference":
            raise ValueError("train.augment_recipe='reference' rotates and crops faces only "
                             f"(the reference has no flow input): it needs {needed}")
    au_dim = registry.au_dim(config.model)
    if not au_dim:
        return
    field = f"model.{config.model.name}.au_dim"
    lacking = [n for n in sources.database_names(config.data)
               if n not in builders.DATABASE_BUILDERS
               or not builders.database_builder(n).HAS_ACTION_UNITS]
    if lacking:
        raise ValueError(f"{field}={au_dim} feeds the coding sheet's FACS action units, but "
                         f"data.name={', '.join(lacking)!r} has no AU codes (the casme2, samm "
                         f"and casme3 sheets have them; SMIC has no sheet): set {field}=0")
    if au_dim != AU_DIM:
        raise ValueError(f"{field} must be 0 or {AU_DIM} (the records' multi-hot AU vector), "
                         f"got {au_dim}")


def check_against_data(config, data) -> None:
    """What can only be checked once the data is read, still before anything is
    written or compiled: the protocol's folds can be made (LOSO needs two subjects,
    LODO two databases; nested selection as many training subjects per fold as inner
    folds), and a batch is no larger than the largest training set."""
    try:
        folds = protocols.make_folds(config.protocol.name, data.dataset, data.subject,
                                     config.protocol.get("train", ()),
                                     config.protocol.get("test", ()))
    except ValueError as e:
        subjects = len(set(protocols.subject_keys(data.dataset, data.subject)))
        databases = len(set(data.dataset))
        raise ConfigError(f"protocol.name={config.protocol.name!r} cannot be run on this data "
                          f"({len(data)} samples, {subjects} subject(s), {databases} "
                          f"database(s)): {e}") from None
    if config.protocol.selection == "nested":
        inner = config.protocol.nested.inner_folds
        try:
            protocols.nested(folds, protocols.subject_keys(data.dataset, data.subject), inner)
        except ValueError as e:
            raise ConfigError(f"protocol.nested.inner_folds={inner} cannot be run on this "
                              f"data: {e}") from None
    largest = max(len(folds.train_samples(f)) for f in range(folds.num_folds))
    if config.train.batch_size > largest:
        raise ConfigError(f"train.batch_size={config.train.batch_size} is larger than the "
                          f"largest training set ({largest} samples): set "
                          f"--config.train.batch_size={largest} or less")
