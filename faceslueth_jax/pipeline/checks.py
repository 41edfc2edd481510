"""Stage 1 of a run: the config resolved and validated at once, before any data is
built or anything compiled. Every check raises ``ConfigError`` naming the field."""

from __future__ import annotations

import dataclasses

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
            "mesh.fold": 0, "mesh.data": 0, "mesh.num_devices": 0}
POSITIVE = ("train.optimizer.lr",)


def _field(config, dotted: str):
    node = config
    for key in dotted.split("."):
        if key not in node:
            return None
        node = node[key]
    return node


def check_numbers(config) -> None:
    """ValueError naming the field for a numeric field out of its range (AT_LEAST,
    POSITIVE) and for record options the builders cannot make (``MEConfig.named``)."""
    for field, least in AT_LEAST.items():
        value = _field(config, field)
        if value is None:
            continue
        kind = int if isinstance(least, int) else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or value < least:
            what = "an integer" if kind is int else "a number"
            raise ValueError(f"{field} must be {what} >= {least}, got {value!r}")
    for field in POSITIVE:
        value = _field(config, field)
        if value is not None and not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f"{field} must be a number > 0, got {value!r}")
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
        if config.protocol.get("seeds", 1) < 1:
            raise ValueError(f"protocol.seeds must be >= 1, got {config.protocol.seeds}")
        for field in ("label_smoothing", "ema_decay"):
            if not 0.0 <= config.train.get(field, 0.0) < 1.0:
                raise ValueError(f"train.{field} must be in [0, 1), got {config.train[field]}")
        if config.get("report", {}).get("attention_samples", 0) and not config.get(
                "model_folder", True):
            raise ValueError("report.attention_samples needs model_folder=True (the pictures "
                             "are drawn with the fold models)")
        if config.protocol.name == "cross" and not (config.protocol.get("train")
                                                    and config.protocol.get("test")):
            raise ValueError("protocol.name='cross' needs protocol.train and protocol.test "
                             "(database names, e.g. ('casme2',) and ('samm',))")
        if config.train.get("mixup_alpha", 0.0) < 0:
            raise ValueError(f"train.mixup_alpha must be >= 0, got {config.train.mixup_alpha}")
        if config.train.get("rotation_deg", 0.0) < 0 or config.train.get("crop_padding", 0) < 0:
            raise ValueError("train.rotation_deg and train.crop_padding must be >= 0")
        build = config.data.get("build") or {}
        if (config.data.get("face_norm") == "imagenet" and not build.get("face_color", False)
                and any(n in builders.DATABASE_BUILDERS
                        for n in sources.database_names(config.data))):
            raise ValueError("data.face_norm='imagenet' needs RGB faces: set "
                             "data.build.face_color=True")
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
