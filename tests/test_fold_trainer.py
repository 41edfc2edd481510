"""The fold-parallel trainer: placement-invariant, isolates divergent folds, learns.
(Eight host devices: ``test_host_devices.py``.)"""

from __future__ import annotations

import numpy as np
import pytest

from tests import tiny_problem


@pytest.fixture(scope="module")
def problem():
    return tiny_problem.trainer_data()


def _fit(views, labels, folds, chunk, epochs=2, config=None, **kwargs):
    config = config or tiny_problem.tiny_config()
    trainer = tiny_problem.tiny_trainer(config, views, labels, folds)
    return trainer.fit(folds, epochs=epochs, seed=0, max_folds_per_chunk=chunk, **kwargs)


def _assert_same_results(a, b, what):
    """Same predictions, logits equal up to float reassociation (per-fold weights
    under vmap become grouped convolutions, which sum in another order)."""
    np.testing.assert_allclose(a.test_logits, b.test_logits, atol=1e-4, err_msg=what)
    np.testing.assert_allclose(a.probes["theta_deg"], b.probes["theta_deg"], atol=1e-4,
                               err_msg=what)
    assert (a.test_logits.argmax(-1) == b.test_logits.argmax(-1)).all(), what


@pytest.fixture(scope="module")
def placement_trainer(problem):
    """One trainer (so one cache of compiled programs) for the placement comparisons,
    of the motion stream (the folds' grouped convolutions, BatchNorm and SOA angles;
    the Swin stream under placements: ``test_host_devices.py``)."""
    views, labels, folds = problem
    return tiny_problem.tiny_trainer(_placement_config(), views, labels, folds)


def _placement_config():
    return tiny_problem.trainer_config()


@pytest.fixture(scope="module")
def in_turn(problem, placement_trainer):
    history = placement_trainer.fit(problem[2], epochs=2, seed=0, max_folds_per_chunk=1)
    assert history.folds_per_chunk == 1 and history.execution["num_chunks"] == 4
    return history


def test_one_program_for_all_folds_equals_folds_in_turn(problem, placement_trainer, in_turn):
    folds = problem[2]
    together = placement_trainer.fit(folds, epochs=2, seed=0, max_folds_per_chunk=4)
    assert together.folds_per_chunk == folds.num_folds
    assert np.abs(in_turn.test_logits[:, -1] - in_turn.test_logits[:, 0]).max() > 1e-2  # it trained
    _assert_same_results(together, in_turn, "all folds in one program")


def test_seed_s_of_a_multi_seed_sweep_is_the_one_seed_sweep_with_seed_s(
        problem, placement_trainer, in_turn):
    from faceslueth_jax.train import protocols

    folds = problem[2]
    both = placement_trainer.fit(protocols.tile(folds, 2), epochs=2, seed=(0, 1),
                                 max_folds_per_chunk=1)
    assert both.seeds == (0, 1) and both.loss.shape[0] == 2 * folds.num_folds
    first, second = both.per_seed()
    np.testing.assert_allclose(first.test_logits, in_turn.test_logits, atol=1e-6)
    np.testing.assert_allclose(first.probes["theta_deg"], in_turn.probes["theta_deg"], atol=1e-6)
    alone = placement_trainer.fit(folds, epochs=2, seed=1, max_folds_per_chunk=1)
    np.testing.assert_allclose(second.test_logits, alone.test_logits, atol=1e-6)
    assert np.abs(first.test_logits - second.test_logits).max() > 1e-3  # the seeds differ


def test_a_shorter_schedule_is_the_first_part_of_a_longer_one(problem, placement_trainer,
                                                              in_turn):
    """Nothing in an epoch depends on the number of epochs (the learning rate follows
    the step): the first 2 epochs of a 3-epoch sweep are the 2-epoch sweep, so a
    shortened schedule's figures can be read off a longer run's curve."""
    longer = placement_trainer.fit(problem[2], epochs=3, seed=0, max_folds_per_chunk=1)
    np.testing.assert_allclose(longer.test_logits[:, :2], in_turn.test_logits, atol=1e-6)
    np.testing.assert_allclose(longer.loss[:, :2], in_turn.loss, atol=1e-6)
    assert np.abs(longer.test_logits[:, 2] - longer.test_logits[:, 1]).max() > 1e-3


def test_random_streams_are_those_of_earlier_releases(problem, in_turn):
    """Same seed, same numbers across versions: the first epoch's mean losses of the
    tiny problem (uneven subjects, augmentation on) as the trainer has given them since
    fillers were left out of BatchNorm's moments. A change to how initialisation,
    shuffling or augmentation draw their keys shows up here."""
    # of the tiny motion stream (two SOA stages) since train.last_batch='fill' became
    # the default
    np.testing.assert_allclose(in_turn.loss[:, 0], [1.2085477, 1.3995715, 1.4900699, 1.1382084],
                               atol=1e-3)


def test_training_learns_and_moves_theta(problem):
    views, labels, folds = problem
    config = tiny_problem.tiny_config()  # both streams: the faces carry the class too
    config.train.augment = False
    config.train.optimizer.lr = 5e-3
    config.model.faceslueth_r.appearance.drop_path_rate = 0.1  # needs the per-step dropout key
    history = _fit(views, labels, folds, chunk=1, epochs=15, config=config)
    assert (history.loss[:, -1] < history.loss[:, 0]).all()
    correct = sum(int((history.test_logits[f, -1, :n].argmax(-1)
                       == labels[folds.test_samples(f)]).sum())
                  for f, n in enumerate(folds.num_test))
    assert correct / len(labels) > 0.8  # chance is ~0.33
    theta = history.probes["theta_deg"]
    assert np.abs(theta[:, -1] - theta[:, 0]).max() > 0.05


def test_non_finite_loss_stops_only_that_fold(problem):
    views, labels, folds = problem
    views = {k: v.copy() for k, v in views.items()}
    poisoned = folds.test_samples(0)[0]
    views["flow"][poisoned] = np.nan  # every fold but fold 0 trains on this sample
    history = _fit(views, labels, folds, chunk=1, epochs=2,
                   config=tiny_problem.motion_only(tiny_problem.tiny_config()))
    assert not history.diverged[0].any() and np.isfinite(history.loss[0]).all()
    assert history.diverged[1:, -1].all() and np.isnan(history.loss[1:, -1]).all()
    # a frozen fold keeps finite parameters: its test logits stay finite
    assert np.isfinite(history.test_logits[1:, -1]).all()


def test_chunks_sized_by_memory_budget(problem, placement_trainer, in_turn):
    """A budget that holds 2 folds per device but not 3 gives chunks of 2 (one compiled
    program for both), with the results of folds in turn; below one fold it says so."""
    folds = problem[2]
    facts = placement_trainer.plan(folds, memory_budget=1 << 40).facts
    assert facts["chunking"] == "memory" and facts["folds_per_chunk"] == folds.num_folds
    fixed, per_fold = facts["fixed_bytes"], facts["per_fold_bytes"]
    assert per_fold > 0 and fixed >= 0
    budget = fixed + int(2.5 * per_fold)
    history = placement_trainer.fit(folds, epochs=2, seed=0, memory_budget=budget)
    assert history.execution["folds_per_chunk"] == 2 and history.execution["num_chunks"] == 2
    _assert_same_results(history, in_turn, "chunks sized by memory")
    with pytest.raises(MemoryError, match="one fold needs .* GiB per device"):
        placement_trainer.plan(folds, memory_budget=fixed + per_fold // 2)


def test_step_loop_unrolled_only_for_convolutions_on_cpu():
    """The trainer reads its own lowered program: a rolled step loop unless XLA:CPU
    would have to run convolutions inside it."""
    import jax
    import jax.numpy as jnp
    from faceslueth_jax.models import layers
    from faceslueth_jax.train import fold_trainer, placement

    mesh = placement.make_mesh(1, 8)
    x = jnp.ones((2, 6, 6, 3))
    lowered = lambda impl: jax.jit(lambda v: layers.Conv(4, 3, impl=impl).init_with_output(
        jax.random.PRNGKey(0), v)[0]).lower(x)
    on_cpu = placement.on_cpu(mesh)
    assert fold_trainer.loop_hostile(lowered("xla"), mesh) == on_cpu
    assert not fold_trainer.loop_hostile(lowered("matmul"), mesh)


def test_convolution_formulations_and_loops_give_the_same_results(problem, in_turn):
    """The measured layouts change float order only: lax convolutions (what GPUs and
    TPUs run) give the predictions of the matmul formulation (the CPU default, which
    ``in_turn`` ran). On CPU the trainer unrolls a step loop that holds convolutions;
    the unrolled program is the same scan (JAX's ``unroll``), so its lowering is
    checked here, not compiled (an unrolled epoch takes minutes to compile on CPU)."""
    views, labels, folds = problem
    config = _placement_config()
    config.model.faceslueth_r.motion.conv_impl = "xla"
    whiles = {}
    for unroll in (0, 1):  # 0: the trainer's choice; 1: a rolled loop
        config.train.scan_unroll = unroll
        trainer = tiny_problem.tiny_trainer(config, views, labels, folds)
        plan = trainer.plan(folds, max_folds_per_chunk=1)
        whiles[unroll] = trainer.lowered_epoch(folds, plan).as_text().count("stablehlo.while")
    assert plan.steps_per_epoch > 1 and whiles[0] == whiles[1] - 1  # the step loop is gone
    xla = trainer.fit(folds, epochs=2, seed=0, max_folds_per_chunk=1)
    _assert_same_results(xla, in_turn, "lax convolutions")
