"""The accelerator path, checked on a CPU: sweeps compiled ahead of time for a TPU slice
(libtpu), the memory planner's check, the device mesh's layout, precision, bf16, the
layout measurement and the final variables written member by member."""

from __future__ import annotations

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from faceslueth_jax.train import final_variables, fold_trainer, memory, placement, targets
from tests import tiny_problem
from tests.conftest import unavailable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def needs_libtpu():
    """Skip with the install line where libtpu is absent; CI installs it, so fail there."""
    try:
        import libtpu  # noqa: F401
    except ImportError:
        unavailable(f"libtpu is not installed ({targets.TPU_INSTALL})")


def tiny_plan_config(data_dir):
    c = tiny_problem.motion_only(tiny_problem.tiny_config())
    c.data.data_dir = str(data_dir)
    c.data.synthetic.update(num_subjects=4, clips_per_subject=4, size=64)
    c.train.scan_unroll = 0
    c.baseline.logistic_regression = False
    return c


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One TFDS folder for the plan tests: the tiny synthetic records are built once."""
    return tmp_path_factory.mktemp("tfds")


@pytest.fixture(scope="module")
def problem():
    return tiny_problem.trainer_data()


# ----- TPU, ahead of time -------------------------------------------------------------
def test_a_small_sweep_compiles_for_a_tpu_slice_without_a_tpu(data_dir):
    """The plan command's path for tpu:v5e:2x2: four TPU v5e chips, the real trainer's
    programs compiled by libtpu, memory figures against the chip, the op census of a
    TPU program (lax convolutions: the TPU's formulation, not the CPU's matmuls)."""
    needs_libtpu()
    from faceslueth_jax import plan

    p = plan.make_plan(tiny_plan_config(data_dir), "tpu:v5e:2x2")
    assert p["target"]["devices"] == 4 and p["target"]["chip"] == "TPU v5 lite"
    assert p["mesh"] == {"fold": 4, "data": 1, "hosts": 1}
    assert p["data"]["models"] == 4 and p["data"]["inner_folds"] == 0  # not nested
    assert p["folds_per_chip"] == 1 and p["chunks"] == 1
    chip = p["per_chip"]
    assert chip["fits"] and 0 < chip["total_bytes"] < chip["budget_bytes"]
    assert chip["budget_bytes"] == int(16 * 2**30 * memory.HEADROOM)
    assert p["conv_formulation"] == "xla" and p["op_census"]["convolutions"] > 0
    assert p["epoch_cost"]["flops"] > 0 and p["roofline"]["epoch_seconds"] > 0
    assert "compiled ahead of time" in plan.summary(p)


def test_a_fold_data_group_sits_on_neighbouring_tpu_chips():
    """mesh 4 fold x 4 data on a v5e 4x4 slice: consecutive devices of a data group are
    one link apart (a plain reshape of the device list puts 2x2 blocks in a row)."""
    needs_libtpu()
    devices = targets.resolve("tpu:v5e:4x4").devices
    for fold, data in ((4, 4), (1, 16), (8, 2)):
        grid = placement.make_mesh(16, 32, fold=fold, data=data, devices=devices).devices
        hops = [sum(abs(a - b) for a, b in zip(grid[g, j].coords, grid[g, j + 1].coords))
                for g in range(fold) for j in range(data - 1)]
        assert max(hops) == 1, (fold, data, hops)


# ----- refusals, one line -------------------------------------------------------------
def test_the_plan_json_is_the_printed_plan_with_its_inner_folds(data_dir):
    """A nested sweep (protocol.selection='nested', 2 inner folds): 4 outer + 8 inner
    fold models in the plan and its summary."""
    from faceslueth_jax import plan
    config = tiny_plan_config(data_dir)
    config.protocol.selection = "nested"
    config.protocol.nested.inner_folds = 2
    p = plan.make_plan(config, "local")
    text = plan.summary(p)
    assert f"{p['per_chip']['total_bytes'] / 2**30:.3f} GiB" in text
    assert p["target"]["ahead_of_time"] is False
    assert (p["data"]["folds"], p["data"]["inner_folds"], p["data"]["models"]) == (4, 8, 12)
    assert "12 fold models" in text and "8 inner folds (nested selection)" in text
    json.dumps(p)  # JSON-able


def test_a_plan_that_does_not_fit_is_refused_in_one_line(data_dir, tmp_path, capsys,
                                                         monkeypatch):
    from faceslueth_jax import plan
    c = tiny_plan_config(data_dir)
    c.device_memory_bytes = 100_000
    monkeypatch.setattr(plan, "FLAGS", type("Flags", (), {
        "config": c, "target": "local", "json": str(tmp_path / "plan.json")})())
    assert plan.main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: one fold needs"), err
    assert "--config.mesh.data" in err[0] and "more chips" in err[0]
    assert not (tmp_path / "plan.json").exists()


def test_an_unknown_target_says_what_exists():
    with pytest.raises(targets.TargetError, match="tpu:KIND:TOPOLOGY"):
        targets.resolve("cloud:big")
    with pytest.raises(targets.TargetError, match="GPU kinds are"):
        targets.resolve("gpu:k80:8")


def test_gpu_target_configs_carry_the_published_figures():
    text = targets.gpu_target_config(targets.GPU_CHIPS["h200"])
    assert "core_count: 132" in text and f"device_memory_size: {141 * 10**9}" in text
    assert "cuda_compute_capability { major: 9 minor: 0 }" in text
    assert 'device_description_str: "NVIDIA H200"' in text


# ----- the memory planner checks what it chose ------------------------------------------
class _Superlinear(fold_trainer.FoldTrainer):
    """Programs whose bytes grow faster than the k = 1, 2 extrapolation says."""

    def program_bytes(self, folds, steps, per_group, conv):
        k = self._balanced(folds, per_group)[0]
        return 100 + 100 * k + 40 * k * k  # k=1: 240, k=2: 460 -> per fold 220, fixed 20


def test_the_planner_backs_off_until_the_chosen_program_fits(problem):
    views, labels, folds = problem
    c = tiny_problem.tiny_config()
    mesh = placement.make_mesh(folds.num_folds, c.train.batch_size, num_devices=1)
    trainer = _Superlinear(tiny_problem.tiny_model(c), c.train, views, labels, mesh)
    plan = trainer.plan(folds, memory_budget=900)  # extrapolation: (900-20)//220 = 4 folds
    k = plan.folds_per_chunk  # 4 needs 1140 B; 3 balance to 2 per chunk over 4 folds
    assert 100 + 100 * k + 40 * k * k <= 900 and k == 2, plan.facts
    assert plan.facts["backed_off_from"] == 4 and plan.facts["checked_program_bytes"] <= 900
    with pytest.raises(MemoryError, match="one fold needs"):
        trainer.plan(folds, memory_budget=230)


class _Device:
    def __init__(self, limit):
        self.limit = limit

    def memory_stats(self):
        return {"bytes_limit": self.limit}


def test_the_budget_is_the_smallest_local_device_s(monkeypatch):
    devices = [_Device(16 << 30), _Device(8 << 30), _Device(12 << 30)]
    monkeypatch.setattr(jax, "local_devices", lambda: devices)
    assert memory.device_budget() == int((8 << 30) * memory.HEADROOM)
    assert memory.device_budget(0, devices[::2]) == int((12 << 30) * memory.HEADROOM)
    assert memory.device_budget(5) == 5


# ----- precision, bf16, formulations --------------------------------------------------
def _lowered_text(problem, **train):
    views, labels, folds = problem
    c = tiny_problem.motion_only(tiny_problem.tiny_config())
    c.train.update(train)
    trainer = tiny_problem.tiny_trainer(c, views, labels, folds)
    plan = trainer.plan(folds, max_folds_per_chunk=1)
    return trainer.lowered_epoch(folds, plan).as_text()


def test_the_configured_matmul_precision_is_compiled_in(problem):
    """'highest' (the default) pins every f32 dot and convolution to full precision, so
    a TPU does not run them as one bf16 pass nor a GPU as TF32; 'default' leaves it."""
    highest = _lowered_text(problem)
    assert "HIGHEST" in highest
    default = _lowered_text(problem, precision="default")
    assert default.count("HIGHEST") < highest.count("HIGHEST")


def test_bf16_compute_keeps_f32_parameters_and_trains(problem):
    from faceslueth_jax.train import fold_step
    views, labels, folds = problem
    c = tiny_problem.motion_only(tiny_problem.tiny_config())  # the Swin's: test_swin.py
    c.train.compute_dtype = "bfloat16"
    trainer = tiny_problem.tiny_trainer(c, views, labels, folds)
    plan = trainer.plan(folds, max_folds_per_chunk=4)
    assert "bf16" in trainer.lowered_epoch(folds, plan).as_text()  # the epoch computes in bf16
    model = tiny_problem.tiny_model(c)
    batch = {k: v[:6] for k, v in views.items()}
    variables = model.init(jax.random.PRNGKey(0), batch, train=False)
    logits = jax.jit(lambda v, dtype: fold_step.apply_in(model, v, batch, dtype, train=False),
                     static_argnums=1)
    f32, bf16 = logits(variables, "float32"), logits(variables, "bfloat16")
    assert bf16.dtype == jnp.float32 and 1e-5 < np.abs(bf16 - f32).max() < 0.5
    grads = jax.jit(jax.grad(lambda v: logits(v, "bfloat16").sum()))(variables)
    assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(grads))  # f32 parameters


def test_views_can_sit_on_device_in_half_the_bytes(problem):
    from faceslueth_jax.train import fold_step
    views, labels, folds = problem
    c = tiny_problem.tiny_config()
    c.train.device_views = "bfloat16"
    trainer = tiny_problem.tiny_trainer(c, views, labels, folds)
    keys = fold_trainer.instance_keys(0, folds.num_folds)
    _, on_device, _ = trainer.data.inputs(folds, [0, 1, 2, 3], keys, 24)
    assert all(v.dtype == jnp.bfloat16 for v in on_device.values())
    assert sum(v.nbytes for v in on_device.values()) == sum(
        v[0].size for v in views.values()) * 24 * 2
    abstract = trainer._abstract_views(24)
    assert all(a.dtype == jnp.bfloat16 for a in abstract.values())
    batch = fold_step.gather(on_device, jnp.array([0, 1]))
    assert all(v.dtype == jnp.float32 for v in batch.values())  # the step sees float32


def test_auto_convolutions_follow_the_trainer_s_formulation():
    from faceslueth_jax.models import layers
    model = layers.Conv(4, 3)
    x = jnp.zeros((1, 8, 8, 2))
    params = model.init(jax.random.PRNGKey(0), x)
    for impl, has_conv in (("xla", True), ("matmul", False)):
        with layers.conv_formulation(impl):
            text = jax.jit(model.apply).lower(params, x).as_text()
        assert ("stablehlo.convolution" in text) == has_conv, impl


def test_swin_s_position_bias_has_a_deterministic_gradient():
    """The bias table lookup as a one-hot product: the same values as a gather, and a
    gradient without a scatter-add (whose sums have no fixed order on GPU)."""
    from faceslueth_jax.models import swin
    table = jax.random.normal(jax.random.PRNGKey(0), (13 ** 2, 3))
    idx = swin.relative_position_index(7).reshape(-1)
    gathered = jnp.take(table, idx, axis=0).reshape(49, 49, 3).transpose(2, 0, 1)
    np.testing.assert_array_equal(swin.relative_position_bias(table, 7), gathered)
    grad = jax.jit(jax.grad(lambda t: (swin.relative_position_bias(t, 7) ** 2).sum()))
    assert "scatter" not in grad.lower(table).as_text()


# ----- layouts by measurement ---------------------------------------------------------
def test_layouts_are_chosen_by_timing_candidates(problem):
    views, labels, folds = problem
    c = tiny_problem.trainer_config()  # test_fold_trainer's programs: compiled once
    trainer = tiny_problem.tiny_trainer(c, views, labels, folds)
    plan = trainer.plan(folds, layout="measure", conv="matmul")
    layout = plan.facts["layout"]
    candidates = layout["candidates"]
    assert {r["folds_per_device_group"] for r in candidates} == {1, 4}  # in turn, together
    assert all(r["conv"] == "matmul" and r["epoch_seconds"] > 0 for r in candidates)
    best = max(candidates, key=lambda r: r["folds_per_second"])
    assert layout["chosen"] == best and plan.folds_per_chunk == best["folds_per_device_group"]
    assert plan.conv == "matmul" and plan.facts["conv_formulation"] == "matmul"


# ----- final variables: once, member by member, never in checkpoints -------------------
def test_final_variables_are_files_per_fold_not_checkpoint_contents(problem, tmp_path):
    from faceslueth_jax.train import checkpoints as checkpoints_lib
    views, labels, folds = problem
    c = tiny_problem.trainer_config()
    mesh = placement.make_mesh(folds.num_folds, c.train.batch_size, num_devices=1)

    def trainer():
        return fold_trainer.FoldTrainer(tiny_problem.tiny_model(c), c.train, views, labels,
                                        mesh, final_dir=tmp_path / "final")
    ckpt = checkpoints_lib.SweepCheckpoints(tmp_path / "ckpt", 1, 10, "fp")
    history = trainer().fit(folds, epochs=2, seed=0, max_folds_per_chunk=2, checkpoints=ckpt)
    files = history.final
    assert files.missing() == [] and files.count == folds.num_folds
    one = files.read(0)
    single = jax.eval_shape(lambda: tiny_problem.tiny_model(c).init(
        jax.random.PRNGKey(0), {k: jnp.zeros((1,) + v.shape[1:]) for k, v in views.items()},
        train=False))
    assert jax.tree.map(np.shape, one["params"]) == jax.tree.map(lambda a: a.shape,
                                                                single["params"])
    saved = sorted(p.name for p in (tmp_path / "ckpt" / "4" / "history").iterdir())
    assert not any("final" in name for name in saved), saved
    # the files hold what the fold is tested with: its logits are the recorded ones
    model = tiny_problem.tiny_model(c)
    f = 1
    test = folds.test_samples(f)
    logits = jax.jit(lambda v, x: model.apply(v, x, train=False))(
        files.read(f), {k: v[test] for k, v in views.items()})
    np.testing.assert_allclose(logits, history.test_logits[f, -1, :len(test)], atol=1e-4)


def test_an_ensemble_runs_in_groups_of_members(monkeypatch, tmp_path, problem):
    from faceslueth_jax.inference import model_folder
    views, labels, folds = problem
    c = tiny_problem.motion_only(tiny_problem.tiny_config())
    model = tiny_problem.tiny_model(c)
    example = {k: jnp.zeros((1,) + v.shape[1:]) for k, v in views.items()}
    members = [model.init(jax.random.PRNGKey(i), example, train=False) for i in range(5)]
    stacked = jax.tree.map(lambda *a: np.stack(a), *members)
    trained = model_folder.TrainedModel(model, stacked, {"members": [{}] * 5,
                                                         "class_names": ["a", "b", "c"]}, c)
    batch = {k: v[:3] for k, v in views.items()}
    whole = trained.member_logits(batch)
    member_bytes = sum(a.nbytes // 5 for a in jax.tree.leaves(stacked))
    monkeypatch.setattr(model_folder, "CPU_GROUP_BYTES", 2 * member_bytes)
    assert trained.members_per_group == 2
    np.testing.assert_allclose(trained.member_logits(batch), whole, atol=1e-5)
    assert final_variables.MemberFiles(tmp_path, 2).missing() == [0, 1]


def test_a_gpu_target_needs_the_cuda_plugin_or_says_how(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_cuda(name, *args, **kwargs):
        if name.startswith("jax_plugins"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_cuda)
    with pytest.raises(targets.TargetError, match=r"jax\[cuda12\]==0.10.2"):
        targets.resolve("gpu:h100:8")
