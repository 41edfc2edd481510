"""Defaults every experiment config starts from.

``base_config(name, preset)``: the synthetic data, LOSO, honest selection and
FaceSleuth-R at ``preset`` (``compact`` or ``paper``; the sizes are
``faceslueth_jax.models.faceslueth_r.VARIANTS``). A config of another model replaces
``c.model`` with that model's ``name``, ``preset`` and own sub-dict.
"""

from __future__ import annotations

import ml_collections

from faceslueth_jax.models import faceslueth_r
from tfds_builders import registry as builder_registry

PRESETS = tuple(faceslueth_r.VARIANTS)


def base_config(name: str, preset: str = "compact") -> ml_collections.ConfigDict:
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose from {sorted(PRESETS)}")
    p = faceslueth_r.VARIANTS[preset]
    c = ml_collections.ConfigDict()
    c.name = name
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.name = "synthetic_me"
    c.data.data_dir = "~/tensorflow_datasets"
    c.data.manual_dir = ""
    c.data.synthetic = ml_collections.ConfigDict(dict(
        num_subjects=16, clips_per_subject=12, orientation_deg=90.0, seed=0, size=128,
        clip_frames=0,  # T > 0: also T frames uniform over each clip (FDP's input)
        # the 'aligned' variant (tfds_builders/synthetic_me): faces centred and equally
        # scaled across subjects, the peak displacement scaled, clips of clip_length frames
        aligned=False, peak_scale=1.0, clip_length=9))
    # How a licensed database's builder makes its records (tfds_builders/me_database.py):
    # class set, stored flow and face sides, flow method, apex spotting where the sheet
    # has none. The model's inputs are then resized to flow_size/face_size below.
    c.data.build = ml_collections.ConfigDict(dict(
        classes="megc3", flow_size=max(112, p["flow_size"]), face_size=max(112, p["face_size"]),
        flow_method="tvl1", flow_norm="raw", apex="flow", margin=0.1,
        face_color=False,  # True: RGB face crops (the reference's input), else grey
        jitter_frames=0,  # K > 0: K-frame windows at onset and apex for temporal jitter
        clip_frames=0,  # T > 0: T grey frames uniform over onset..offset (FDP's input)
        # the face box: 'haar' | 'dlib_hog' | 'dlib_cnn'; 'landmarks68': 68-point similarity
        # alignment (faceslueth_jax/preprocess/landmarks.py); without dlib: haar, none
        face_detector="haar", face_align="none",
        # records already under data_dir are reused when built from the same source
        # (sheets, frame names and sizes, these options) and refused when not; True
        # rebuilds them (the old ones stay readable until the new ones are complete)
        overwrite=False))
    c.data.on_error = "raise"  # or 'skip': leave out bad samples, listed in the metadata
    # Several databases at once (leave-one-database-out, cross-database): their names
    # and each one's manual_dir (--config.data.manual_dirs.samm=DIR); built alike
    # (data.build), so they must share a class set. Empty: data.name alone.
    c.data.names = ()
    c.data.manual_dirs = ml_collections.ConfigDict(
        {name: "" for name in builder_registry.DATABASE_BUILDERS})
    c.data.flow_size = p["flow_size"]
    c.data.face_size = p["face_size"]
    c.data.max_side = 1024  # the largest flow/face side accepted (pixels); raise it knowingly
    c.data.flow_norm = "minmax"  # per sample and channel to 0..1, as STSTNet/HTNet
    c.data.use_onset = True
    c.data.face_norm = "standardise"  # per sample; 'imagenet': x/255, ImageNet mean/std (RGB)

    c.model = ml_collections.ConfigDict()
    c.model.name = "faceslueth_r"  # a key of faceslueth_jax.models.registry.MODELS
    c.model.preset = preset
    c.model.faceslueth_r = faceslueth_r.variant_config(preset)

    c.protocol = ml_collections.ConfigDict()
    c.protocol.name = "loso"  # 'lodo', 'cross' (protocol.train -> protocol.test), 'all'
    c.protocol.train = ()  # the cross protocol's training databases (the records' dataset)
    c.protocol.test = ()   # and its test databases
    c.protocol.selection = "last_epoch"  # honest; 'best_test_epoch' is the optimistic rule
    c.protocol.seeds = 1  # S > 1: seeds seed .. seed + S - 1 of every fold, mean, std, ensemble
    # selection 'nested': G inner folds per outer fold (its training subjects dealt into
    # G groups) trained in the same sweep; each outer fold's epoch is chosen by their
    # pooled validation UF1 (evaluation/selection.py)
    c.protocol.nested = ml_collections.ConfigDict(dict(inner_folds=4))
    # 'all' trains on every sample (no test) for a model to deploy. Every run writes
    # <workdir>/model (faceslueth_jax.inference.model_folder) unless model_folder=False.
    c.model_folder = True
    c.report = ml_collections.ConfigDict()
    # N > 0: <workdir>/attention/<database>/<class>/*.png, SOA's attention and the flow of
    # the first N test samples of every database and class, each with its fold's model
    c.report.attention_samples = 0

    c.train = ml_collections.ConfigDict()
    c.train.epochs = 30
    c.train.batch_size = 32
    c.train.augment = True
    c.train.max_shift_fraction = 0.06
    # 'shift': mirror + translation (max_shift_fraction); 'reference': the PyTorch
    # reference's flip 0.5, rotation +-rotation_deg, crop with crop_padding px of zeros,
    # after a temporal jitter of onset and apex (when the records hold jitter windows).
    c.train.augment_recipe = "shift"
    c.train.rotation_deg = 3.0
    c.train.crop_padding = 15
    # The loss and the weights tested (faceslueth_jax/train/fold_step.py): label smoothing
    # eps, class-balanced sample weights n / (K n_c), a moving average of the weights
    # (decay d; 0 = off) from which the test logits come, mixup of neighbouring samples
    # with lam ~ Beta(a, a) (a = 0: off).
    c.train.label_smoothing = 0.0
    c.train.class_balance = False
    c.train.ema_decay = 0.0
    c.train.mixup_alpha = 0.0
    # record every epoch's test logits of the test rows mirrored left-right as well (u
    # negated): the flip test-time augmentation, which an ensemble may choose on inner
    # validation (evaluation/ensembles.py); training is unchanged
    c.train.test_flip = False
    # 'fill': a fold's last batch is completed with the start of its permutation (every
    # batch full); 'short': n mod B samples, as PyTorch's DataLoader (fold_step.batch_weights)
    c.train.last_batch = "fill"
    # more fold models than this share diverged: the run fails (exit 3) and publishes no
    # model; its files go to <workdir>/DIVERGED for inspection
    c.train.max_diverged_share = 0.5
    c.train.scan_unroll = 0      # 0: a rolled scan; unrolled on CPU when the program has convolutions
    # Arithmetic (docs/accelerators.md): f32 matmuls and convolutions at 'highest' precision
    # (full f32 on every backend; the parity and resume tolerances hold) or 'default' (the
    # backend's fast path: one bf16 pass on TPU, TF32 on recent GPUs, no change on CPU);
    # compute_dtype 'bfloat16' computes the model in bf16 with f32 parameters; device_views
    # 'bfloat16' keeps the data set on device in half the bytes (f32 in the step).
    c.train.precision = "highest"
    c.train.compute_dtype = "float32"
    c.train.device_views = "float32"
    c.train.optimizer = ml_collections.ConfigDict(dict(
        lr=8e-4, weight_decay=0.6, theta_lr=5e-3, theta_weight_decay=0.2,
        gamma=0.987, decay_epochs=50, eps=1e-8))

    # Placement (faceslueth_jax/train/placement.py): a (fold x data) device mesh;
    # 0 = fit the folds to the devices (data-parallel only with at least twice as many
    # devices as folds: then each fold gets a group of D devices, G >= folds).
    c.mesh = ml_collections.ConfigDict(dict(fold=0, data=0, num_devices=0))
    # Folds per compiled program: 0 = as many as fit in device memory (measured from
    # the compiled program), one per device on CPU unless device_memory_bytes is set.
    c.max_folds_per_chunk = 0
    c.device_memory_bytes = 0  # 0: the device's own limit
    # How folds per program and convolutions are chosen (faceslueth_jax/train/sweep.py):
    # 'auto' times one epoch of each candidate on GPUs/TPUs at hand and keeps the rule
    # on CPU; 'measure' also on CPU; 'rule' never times. conv_formulation '' = choose,
    # else 'xla' (lax convolutions) or 'matmul' (shifted copies x one matmul) for every
    # model convolution left at impl='auto'.
    c.layout = "auto"
    c.conv_formulation = ""
    # Interruption: orbax checkpoints in <workdir>/checkpoints; rerunning the same
    # command with the same --workdir resumes from the newest readable one.
    # A save every 5 epochs and at each chunk's end, at most one a minute (and the last).
    c.checkpoint = ml_collections.ConfigDict(dict(every_epochs=5, keep=3, min_seconds=60.0))
    # Multi-host (faceslueth_jax/distributed.py): automatic on TPU pods, SLURM, Open MPI;
    # elsewhere distributed=True with coordinator_address host:port, num_processes, process_id.
    c.distributed = False
    c.coordinator_address = ""
    c.num_processes = 1
    c.process_id = 0

    c.baseline = ml_collections.ConfigDict()
    c.baseline.logistic_regression = True
    # 'inner_cv': class-balanced, l2 chosen per fold by an inner CV over the training
    # subjects (models/logistic_regression.py); 'fixed': l2 = 1e-2, unweighted
    c.baseline.tuning = "inner_cv"
    # what it reads: 'flow' (28x28), or the hand-crafted 'mdmo' (flow) or 'lbp_top' (frames)
    c.baseline.features = "flow"
    return c


def reference_network(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The PyTorch reference's network (``faceslueth_r.as_reference``) in config ``c``."""
    faceslueth_r.as_reference(c.model.faceslueth_r)
    return c


def handcrafted(c: ml_collections.ConfigDict, model: str) -> ml_collections.ConfigDict:
    """A hand-crafted descriptor (``model``: 'mdmo' or 'lbp_top') in config ``c``: the
    run's baseline is the field's classifier, a class-balanced logistic regression on
    the descriptor with its L2 chosen per fold by an inner CV (no training loop); the
    trained model is the same descriptor under one dense layer (Adam lr 1e-2, L2 1e-3,
    100 epochs, batch 32, no augmentation), which gives the run a model folder that
    ``predict`` reads."""
    c.model = ml_collections.ConfigDict()
    c.model.name = model
    c.model.preset = "grid"
    c.model[model] = ml_collections.ConfigDict({"grid": 6 if model == "mdmo" else 4})
    c.baseline.features = model
    c.train.epochs = 100
    c.train.batch_size = 32
    c.train.augment = False
    c.train.optimizer.update(lr=1e-2, weight_decay=1e-3, weight_decay_mode="l2", gamma=1.0,
                             theta_lr=1e-2, theta_weight_decay=1e-3)
    return c


def meb_composite(name: str, model: str, flow_size: int, *, lr: float = 1e-4,
                  epochs: int = 200, batch_size: int = 32, optimizer: str = "adam",
                  **sizes) -> ml_collections.ConfigDict:
    """A tvaranka/meb baseline on the composite as HTNet released it, with meb's training
    recipe (its ``Config``: torch's Adam(lr, weight_decay=1e-3), the decay as L2 in the
    gradient, constant lr, batch 32 with a short last batch, 200 epochs, cross-entropy,
    no augmentation; ``optimizer='sgd'``: torch's SGD with momentum 0.9 and the same
    L2, as meb's RCN-A and ResNet runs); ``sizes``: the model's own sub-dict."""
    c = base_config(name)
    c.data.name = "htnet_composite"
    c.data.flow_size = flow_size
    c.data.face_size = 28  # faces are not read by these networks; keep their views small
    c.model = ml_collections.ConfigDict()
    c.model.name = model
    c.model.preset = "meb"
    c.model[model] = ml_collections.ConfigDict(sizes)
    c.train.epochs = epochs
    c.train.batch_size = batch_size
    c.train.last_batch = "short"  # meb's DataLoader keeps a short last batch
    c.train.augment = False
    c.train.optimizer.update(kind=optimizer, momentum=0.9, lr=lr, weight_decay=1e-3,
                             weight_decay_mode="l2", gamma=1.0, theta_lr=lr,
                             theta_weight_decay=1e-3)
    return c
