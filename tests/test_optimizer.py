import jax.numpy as jnp
import ml_collections
import pytest

from faceslueth_jax.models import soa
from faceslueth_jax.train import optimizer


def _cfg():
    return ml_collections.ConfigDict(dict(lr=8e-4, weight_decay=0.6, theta_lr=5e-3,
                                          theta_weight_decay=0.2, gamma=0.987, decay_epochs=50,
                                          eps=1e-8))


def test_orientation_vectors_get_the_theta_group():
    params = {"motion": {"stage0": {soa.ORIENTATION: jnp.ones(2), "conv": {"kernel": jnp.ones(3)}}},
              "fc": {"kernel": jnp.ones(2)}}
    labels = optimizer.param_groups(params, (soa.ORIENTATION,))
    assert labels["motion"]["stage0"][soa.ORIENTATION] == "theta"
    assert labels["motion"]["stage0"]["conv"]["kernel"] == "weights"
    assert labels["fc"]["kernel"] == "weights"


def test_schedule_decays_per_epoch_for_fifty_epochs():
    s = optimizer.epoch_decay(8e-4, 0.987, 50, steps_per_epoch=4)
    assert float(s(0)) == pytest.approx(8e-4)
    assert float(s(3)) == pytest.approx(8e-4)
    assert float(s(4)) == pytest.approx(8e-4 * 0.987)
    assert float(s(4 * 50)) == pytest.approx(8e-4 * 0.987 ** 50, rel=1e-5)  # float32 power
    assert float(s(4 * 80)) == float(s(4 * 50))


def test_groups_use_their_own_learning_rate():
    params = {soa.ORIENTATION: jnp.array([1.0, 0.0]), "w": jnp.array([1.0, 0.0])}
    tx = optimizer.make_optimizer(_cfg(), steps_per_epoch=1, slow_params=(soa.ORIENTATION,))
    grads = {soa.ORIENTATION: jnp.array([1.0, 1.0]), "w": jnp.array([1.0, 1.0])}
    updates, _ = tx.update(grads, tx.init(params), params)
    # first Adam step moves by ~lr per coordinate, plus decoupled weight decay lr*wd*p
    assert float(updates[soa.ORIENTATION][1]) == pytest.approx(-5e-3, rel=1e-3)
    assert float(updates["w"][1]) == pytest.approx(-8e-4, rel=1e-3)
    assert float(updates[soa.ORIENTATION][0]) == pytest.approx(-5e-3 - 5e-3 * 0.2, rel=1e-3)
    assert float(updates["w"][0]) == pytest.approx(-8e-4 - 8e-4 * 0.6, rel=1e-3)


def test_l2_mode_adds_the_decay_to_the_gradient_as_torch_adam():
    """torch.optim.Adam(weight_decay=wd): g' = g + wd * w enters the Adam moments, so a
    weight whose gradient is exactly -wd * w does not move; AdamW would still shrink it."""
    cfg = _cfg()
    cfg.update(weight_decay=0.5, gamma=1.0)
    cfg.weight_decay_mode = "l2"
    params = {"w": jnp.array([2.0, 1.0])}
    tx = optimizer.make_optimizer(cfg, steps_per_epoch=1)
    grads = {"w": jnp.array([-1.0, 0.0])}  # -wd * w for the first weight
    updates, _ = tx.update(grads, tx.init(params), params)
    assert float(updates["w"][0]) == pytest.approx(0.0, abs=1e-6)
    assert float(updates["w"][1]) == pytest.approx(-8e-4, rel=1e-3)  # first step ~ lr * sign
    cfg.weight_decay_mode = "decopled"
    with pytest.raises(ValueError, match="weight_decay_mode"):
        optimizer.make_optimizer(cfg, steps_per_epoch=1)


def test_sgd_kind_is_torchs_sgd_with_momentum_and_coupled_l2():
    """torch.optim.SGD(lr, momentum=mu, weight_decay=wd): v = mu v + g + wd w; w -= lr v."""
    cfg = _cfg()
    cfg.update(lr=0.1, weight_decay=0.5, gamma=1.0)
    cfg.kind, cfg.momentum = "sgd", 0.9
    params = {"w": jnp.array([2.0, 1.0])}
    tx = optimizer.make_optimizer(cfg, steps_per_epoch=1)
    state = tx.init(params)
    w, v = params["w"], jnp.zeros(2)
    for g in (jnp.array([1.0, -1.0]), jnp.array([0.5, 0.0])):
        updates, state = tx.update({"w": g}, state, {"w": w})
        v = 0.9 * v + g + 0.5 * w
        expected = w - 0.1 * v
        w = w + updates["w"]
        assert jnp.allclose(w, expected, atol=1e-6)
    cfg.kind = "sgdw"
    with pytest.raises(ValueError, match="optimizer.kind"):
        optimizer.make_optimizer(cfg, steps_per_epoch=1)
