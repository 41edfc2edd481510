"""Multinomial logistic regression on flattened features, trained for every fold.

For fold f with train set T_f: features are standardised with T_f's mean and
std, then W, b minimise

    (1/|T_f|) sum_{i in T_f} CE(softmax(W x_i + b), y_i) + (l2 / 2) |W|^2

by full-batch L-BFGS. A reference point for how hard a data set is: it sees
the same flow inputs and folds as the deep model, without any structure.

Nothing of a test sample (i not in T_f) reaches fold f's fit: its features and
label are masked out (replaced, not multiplied by a zero weight, so that even a
non-finite sample cannot leak through 0 * NaN) before the standardisation
statistics and the loss are computed; it only receives the fitted model's logits.

``tuned_fold_logits`` chooses l2 per fold by an inner cross-validation over the
training subjects of T_f only, with class-balanced weights
w_i = |T| / (K |T_{y_i}|) in the mean loss. For speed every fit of fold f runs in
the row space of T_f's standardised features Z_T (d = 2352 -> at most |T_f|
coordinates): with Z_T Z_T^T = U diag(lambda) U^T, the coordinates of any x are
x' = x Z_T^T U diag(lambda)^(-1/2), i.e. x V with V an orthonormal basis of that
row space. Since every minimiser over T_f or a subset of it has W in that row
space (the loss gradient is a combination of its rows, and the L2 term removes any
other component), W = V W' and |W|^2 = |W'|^2: the fit is the same problem in
fewer coordinates. The inner folds reuse T_f's standardisation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from faceslueth_jax.data.subject_groups import inner_groups


def _lbfgs(loss, params, steps: int):
    """``steps`` L-BFGS iterations (optax, zoom line search) from ``params``."""
    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    def step(carry, _):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = solver.update(grad, state, params, value=value, grad=grad,
                                       value_fn=loss)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, solver.init(params)), None, length=steps)
    return params


def _fit_predict(x, y, train_mask, num_classes: int, l2: float, steps: int):
    # Samples outside T_f are replaced by zeros (features) and class 0 (labels) before
    # anything is computed from them, not weighted by 0: 0 * NaN is NaN, so a
    # non-finite test sample would otherwise spoil the whole fold's fit.
    train = train_mask[:, None]
    x_train = jnp.where(train, x, 0.0)
    y_train = jnp.where(train_mask, y, 0)
    w_train = train_mask.astype(x.dtype)
    n = jnp.maximum(w_train.sum(), 1.0)
    mean = x_train.sum(0) / n
    std = jnp.sqrt(jnp.where(train, (x_train - mean) ** 2, 0.0).sum(0) / n) + 1e-6
    z_train = jnp.where(train, (x_train - mean) / std, 0.0)

    def loss(params):
        logits = z_train @ params["w"] + params["b"]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y_train)
        return (ce * w_train).sum() / n + 0.5 * l2 * jnp.sum(params["w"] ** 2)

    params = {"w": jnp.zeros((x.shape[1], num_classes)), "b": jnp.zeros(num_classes)}
    params = _lbfgs(loss, params, steps)
    return (x - mean) / std @ params["w"] + params["b"]


def scatter_test(all_logits: np.ndarray, folds) -> np.ndarray:
    """(N, K): each sample's logits from the fold that tests it, out of (F, N, K)."""
    out = np.zeros(all_logits.shape[1:], np.float32)
    for f in range(folds.num_folds):
        idx = folds.test_samples(f)
        out[idx] = all_logits[f, idx]
    return out


def all_fold_logits(features: np.ndarray, labels: np.ndarray, folds, num_classes: int,
                    l2: float = 1e-2, steps: int = 100) -> np.ndarray:
    """(F, N, K): every sample's logits under each fold's model."""
    x = jnp.asarray(features.reshape(len(features), -1), jnp.float32)
    y = jnp.asarray(labels, jnp.int32)
    masks = np.zeros((folds.num_folds, len(x)), bool)
    for f in range(folds.num_folds):
        masks[f, folds.train_samples(f)] = True
    # data as arguments (closed-over arrays would be baked into the program)
    fit = jax.jit(jax.vmap(lambda x, y, m: _fit_predict(x, y, m, num_classes, l2, steps),
                           in_axes=(None, None, 0)))
    return np.asarray(fit(x, y, jnp.asarray(masks)))


def fold_logits(features: np.ndarray, labels: np.ndarray, folds, num_classes: int,
                l2: float = 1e-2, steps: int = 100) -> np.ndarray:
    """Logits (N, K) for every sample from the fold that tests it."""
    return scatter_test(all_fold_logits(features, labels, folds, num_classes, l2, steps), folds)


# ----------------------------------------------------- l2 chosen by inner CV

# strongest first: ties keep the stronger. On the composite's 28x28 flow an earlier grid
# of 1 .. 1e-3 picked its strongest end in 63 of 68 folds, so it reaches up to 100.
L2_GRID = (100.0, 30.0, 10.0, 3.0, 1.0, 0.3, 0.1)
INNER_FOLDS = 5


def _row_space(x, train_mask):
    """Standardise with T's statistics and express every sample in an orthonormal
    basis of T's row space (module docstring): ((N, N) coordinates, (N,) curvature).
    In these coordinates T's rows are U diag(lambda)^(1/2), so sum_{i in T} z_i z_i^T
    = diag(lambda): ``curvature`` is lambda, 0 for the columns of near-zero
    eigenvalues (< 1e-6 of the largest), which are set to 0."""
    train = train_mask[:, None]
    x_train = jnp.where(train, x, 0.0)
    n = jnp.maximum(train_mask.sum(), 1.0)
    mean = x_train.sum(0) / n
    std = jnp.sqrt(jnp.where(train, (x_train - mean) ** 2, 0.0).sum(0) / n) + 1e-6
    z = (x - mean) / std
    z_train = jnp.where(train, z, 0.0)
    lam, u = jnp.linalg.eigh(z_train @ z_train.T)
    keep = lam > 1e-6 * lam.max()
    basis = u * jnp.where(keep, jax.lax.rsqrt(jnp.where(keep, lam, 1.0)), 0.0)
    return (z @ z_train.T) @ basis, jnp.where(keep, lam, 0.0)


def balanced_weights(y, fit_mask, num_classes: int):
    """(labels with 0 outside the fit, weights w_i = n / (K' n_{y_i}) on the fit and 0
    elsewhere, n = the fit's size); K' = the classes present in the fit."""
    y_fit = jnp.where(fit_mask, y, 0)
    counts = jnp.zeros(num_classes).at[y_fit].add(fit_mask.astype(jnp.float32))
    n = jnp.maximum(fit_mask.sum(), 1.0)
    present = jnp.maximum((counts > 0).sum(), 1)
    return y_fit, jnp.where(fit_mask, n / (present * jnp.maximum(counts[y_fit], 1.0)), 0.0), n


def balanced_loss(z, y, fit_mask, num_classes: int, l2):
    """params -> (1/n) sum_i w_i CE(softmax(z_i W + b), y_i) + (l2 / 2) |W|^2 over the
    fit's samples (``balanced_weights``)."""
    y_fit, weight, n = balanced_weights(y, fit_mask, num_classes)

    def loss(params):
        logits = z @ params["w"] + params["b"]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y_fit)
        return (ce * weight).sum() / n + 0.5 * l2 * jnp.sum(params["w"] ** 2)
    return loss


def _balanced_fit(z_train, curvature, y, fit_mask, num_classes: int, l2, steps: int):
    """Minimiser of ``balanced_loss`` by preconditioned Nesterov descent.

    ``z_train``: row-space coordinates with every row outside the outer training set
    zeroed (finite everywhere), shared by all fits of a fold, so a fit's 0 weights
    never multiply a non-finite value. The softmax cross-entropy's Hessian in the
    logits is at most 1/2, so the loss's Hessian is bounded by the diagonal
    M = (w_max / 2n) lambda + l2 for W (``curvature`` = lambda: the fit's rows are a
    subset of T's, whose sum of z z^T is diag(lambda)) and w_max / 2 for b; each step
    moves by -M^{-1} grad from the Nesterov look-ahead point. No line search: a fixed
    number of cheap steps, batched over every fit of a fold."""
    loss = balanced_loss(z_train, y, fit_mask, num_classes, l2)
    _, weight, n = balanced_weights(y, fit_mask, num_classes)
    w_max = weight.max()
    inv_w = 1.0 / (0.5 * w_max * curvature / n + l2)[:, None]
    inv_b = 1.0 / (0.5 * w_max)
    grad = jax.grad(loss)

    def step(carry, t):
        params, previous = carry
        momentum = t / (t + 3.0)
        look = jax.tree.map(lambda a, b: a + momentum * (a - b), params, previous)
        g = grad(look)
        new = {"w": look["w"] - inv_w * g["w"], "b": look["b"] - inv_b * g["b"]}
        return (new, params), None

    zero = {"w": jnp.zeros((z_train.shape[1], num_classes)), "b": jnp.zeros(num_classes)}
    (params, _), _ = jax.lax.scan(step, (zero, zero), jnp.arange(steps, dtype=jnp.float32))
    return params


def _uf1(labels, predicted, mask, num_classes: int):
    """Pooled UF1 of the masked samples (classes with neither samples nor predictions
    left out, as ``evaluation.metrics``)."""
    one_hot = lambda v: jax.nn.one_hot(v, num_classes) * mask[:, None]
    cm = one_hot(labels).T @ jax.nn.one_hot(predicted, num_classes)
    tp, support, guessed = jnp.diag(cm), cm.sum(1), cm.sum(0)
    has = support + guessed > 0
    f1 = jnp.where(has, 2 * tp / jnp.maximum(support + guessed, 1.0), 0.0)
    return f1.sum() / jnp.maximum(has.sum(), 1)


def _tuned_fold(x, y, train_mask, inner_group, num_classes, grid, inner_folds, steps):
    """One outer fold: (logits (N, K), index of the chosen l2). ``inner_group``: (N,)
    the inner fold of each training sample (-1 outside T_f)."""
    z, curvature = _row_space(x, train_mask)
    z_train = jnp.where(train_mask[:, None], z, 0.0)  # shared by every inner fit
    grid = jnp.asarray(grid)

    def inner_uf1(l2):
        def held_out(j):
            params = _balanced_fit(z_train, curvature, y, train_mask & (inner_group != j),
                                   num_classes, l2, steps)
            return (z_train @ params["w"] + params["b"]).argmax(-1)
        predicted = jax.vmap(held_out)(jnp.arange(inner_folds))  # (J, N)
        # each training sample's prediction from the inner fold that holds it out
        mine = jnp.take_along_axis(predicted, jnp.clip(inner_group, 0)[None], 0)[0]
        return _uf1(y, mine, train_mask.astype(z.dtype), num_classes)

    chosen = jnp.argmax(jax.vmap(inner_uf1)(grid))
    params = _balanced_fit(z_train, curvature, y, train_mask, num_classes, grid[chosen], steps)
    return z @ params["w"] + params["b"], chosen


def tuned_all_logits(features: np.ndarray, labels: np.ndarray, folds, subjects,
                     num_classes: int, grid=L2_GRID, inner_folds: int = INNER_FOLDS,
                     steps: int = 300):
    """((F, N, K) every sample's logits under each fold's model, chosen l2 per fold):
    class-balanced L2 logistic regression with l2 chosen from ``grid`` by the pooled
    UF1 of an inner grouped cross-validation over T_f's subjects."""
    x = jnp.asarray(features.reshape(len(features), -1), jnp.float32)
    y = jnp.asarray(labels, jnp.int32)
    groups = inner_groups(folds, subjects, inner_folds)
    # data as arguments (closed-over arrays would be baked into the program); one call
    # per outer fold, its inner fits batched (with L-BFGS, all outer folds in one program
    # ran slower than one fold at a time: each fold iterates until the slowest converges)
    fit = jax.jit(lambda x, y, g: _tuned_fold(x, y, g >= 0, g, num_classes, tuple(grid),
                                              inner_folds, steps))
    out = np.zeros((folds.num_folds, len(x), num_classes), np.float32)
    chosen = {}
    for f in range(folds.num_folds):
        logits, index = fit(x, y, jnp.asarray(groups[f]))
        out[f] = np.asarray(logits)
        chosen[folds.names[f]] = float(grid[int(index)])
    return out, chosen


def tuned_fold_logits(features: np.ndarray, labels: np.ndarray, folds, subjects,
                      num_classes: int, grid=L2_GRID, inner_folds: int = INNER_FOLDS,
                      steps: int = 300):
    """(logits (N, K) for every sample from the fold that tests it, chosen l2 per
    fold): ``tuned_all_logits``' test rows."""
    everything, chosen = tuned_all_logits(features, labels, folds, subjects, num_classes,
                                          grid, inner_folds, steps)
    return scatter_test(everything, folds), chosen
