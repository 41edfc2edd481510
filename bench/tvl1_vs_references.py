"""Accuracy and speed of the project's JAX TV-L1 against scikit-image's and
OpenCV's TV-L1, on image pairs whose flow is known exactly.

Accuracy is the mean end-point error over the interior Omega of the image
(pixels at least ``--border`` px from every edge):

    EPE = 1/|Omega| sum_{x in Omega} || w_est(x) - w(x) ||_2   (px),

with w = (u, v), u along x (columns), v along y (rows), and the project's
convention I1(x + w(x)) = I0(x). Speed is milliseconds per pair, the median
over ``--repeats`` passes over all pairs (interleaved across methods): the
JAX solver one pair per call and batched (``tvl1_batch`` over all pairs in
one call), both after compilation (timed apart), and scikit-image and
OpenCV one pair per call.

Ground truth is exact by construction: I1 is a function defined at every
real point and I0 is sampled from it, I0(x) = I1(x + w(x)) at the pixels x,
so no inverse of w is needed. Half of the pairs are a random Fourier series
with the spectrum of multi-scale blurred white noise (exact at any point);
the other half are synthetic faces from ``tfds_builders.synthetic_me.synthetic_faces``
rendered on the pixel grid, for which I1 between pixels is its cubic
B-spline interpolant (the ground truth is exact for that interpolant, which
none of the solvers uses to warp). w is a small global translation plus
Gaussian bumps of micro-expression size.

Run from the repository root:

    python bench/tvl1_vs_references.py --pairs 32 --size 112 [--json PATH]

The OpenCV row needs ``cv2.optflow`` (opencv-contrib-python); without it
the row is skipped. See bench/README.md.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np


try:  # bench-only dependencies (scipy comes with scikit-image)
    import skimage
    from scipy import ndimage
    from skimage.registration import optical_flow_tvl1
except ImportError:
    sys.exit("scikit-image is missing; it is a bench-only dependency: "
             "pip install -r requirements-bench.txt")

import cv2
import jax
import jax.numpy as jnp

from tfds_builders.synthetic_me import synthetic_faces
from faceslueth_jax.preprocess.tvl1 import TVL1Params, tvl1, tvl1_batch

REF_SIZE = 112  # the FaceSleuth-R flow size; lengths below are px at this size
SCENES = ("texture", "face")
TEXTURE_OCTAVES = ((1.0, 0.5), (2.5, 0.8), (6.0, 1.0), (14.0, 1.0))  # (blur sigma px, weight)


# --------------------------------------------------------------------------
# Pairs with exact ground truth.
# --------------------------------------------------------------------------


def fourier_texture(rng, scale):
    """A function (x, y) -> grey level, defined at every real point. Per
    octave of blur width sigma (those of the synthetic faces' skin texture),
    sqrt(2/n) sum_j cos(k_j . x + phase_j) over n = 64 cosines with k_j drawn
    from N(0, I / (2 sigma^2)) rad/px: random Fourier features of white noise
    blurred by a Gaussian of width sigma, with unit variance. The weighted
    octaves are scaled to mean 128 and standard deviation 40."""
    n = 64
    octaves = []
    for sigma, weight in TEXTURE_OCTAVES:
        k = rng.normal(0.0, 1.0 / (np.sqrt(2.0) * sigma * scale), (n, 2))
        phase = rng.uniform(0.0, 2.0 * np.pi, n)
        octaves.append((weight * np.sqrt(2.0 / n), k, phase))
    norm = np.sqrt(sum(weight**2 for _, weight in TEXTURE_OCTAVES))

    def texture(x, y):
        total = sum(a * np.cos(k[:, 0, None, None] * x + k[:, 1, None, None] * y + p[:, None, None]).sum(0)
                    for a, k, p in octaves)
        return np.clip(128.0 + 40.0 * total / norm, 0.0, 255.0)

    return texture


def spline(image):
    """The cubic B-spline interpolant of ``image`` as a function
    (x, y) -> value (mirror boundary). Smooth, and none of the compared
    solvers warps with it (they use bilinear or bicubic convolution)."""
    coefficients = ndimage.spline_filter(image.astype(np.float64), order=3, mode="mirror")
    return lambda x, y: ndimage.map_coordinates(coefficients, [y, x], order=3, mode="mirror", prefilter=False)


def displacement(rng, size):
    """(size, size, 2) field (u, v): a translation of at most 0.5 px plus four
    Gaussian bumps, each of peak 0.5..1.5 px in a random direction and width
    6..16 px, centred at least 10 px inside the image (lengths at 112 px,
    scaled with ``size``). Where bumps overlap the peak reaches about 2.5 px."""
    r = size / REF_SIZE
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    angle, radius = rng.uniform(0, 2 * np.pi), 0.5 * r * np.sqrt(rng.uniform())
    field = np.broadcast_to(radius * np.array([np.cos(angle), np.sin(angle)]), (size, size, 2)).copy()
    for _ in range(4):
        cx, cy = rng.uniform(10 * r, size - 10 * r, 2)
        width = rng.uniform(6, 16) * r
        peak, angle = rng.uniform(0.5, 1.5) * r, rng.uniform(0, 2 * np.pi)
        bump = peak * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * width**2))
        field += bump[..., None] * np.array([np.cos(angle), np.sin(angle)])
    return field


def make_pair(image1, flow):
    """(I0, I1, w) float32 with I0(x) = I1(x + w(x)) at every pixel x, where
    ``image1`` is a function (x, y) -> grey level."""
    size = flow.shape[0]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    i0 = image1(xs + flow[..., 0], ys + flow[..., 1])
    return i0.astype(np.float32), image1(xs, ys).astype(np.float32), flow.astype(np.float32)


def make_pairs(num_pairs, size, seed):
    """Pairs alternate between the two scenes; pair k draws from seed (seed, k)."""
    scenes, i0s, i1s, flows = [], [], [], []
    for k in range(num_pairs):
        rng = np.random.default_rng([seed, k])
        scene = SCENES[k % 2]
        if scene == "texture":
            image1 = fourier_texture(rng, size / REF_SIZE)
        else:
            image1 = spline(synthetic_faces.render(synthetic_faces.make_subject(rng, size)))
        i0, i1, flow = make_pair(image1, displacement(rng, size))
        scenes.append(scene)
        i0s.append(i0)
        i1s.append(i1)
        flows.append(flow)
    return np.array(scenes), np.stack(i0s), np.stack(i1s), np.stack(flows)


# --------------------------------------------------------------------------
# Methods: each maps (N, H, W) x (N, H, W) grey 0..255 float32 to (N, H, W, 2)
# flow in the project's convention.
# --------------------------------------------------------------------------


def jax_methods(i0s, i1s):
    """JAX one pair per call and batched, compiled ahead of time. Returns
    {name: run} and {name: seconds to trace and compile}."""
    params = TVL1Params()
    start = time.perf_counter()
    single = tvl1.lower(i0s[0], i1s[0], params).compile()
    compile_single = time.perf_counter() - start
    start = time.perf_counter()
    batched = tvl1_batch.lower(i0s, i1s, params).compile()
    compile_batched = time.perf_counter() - start

    def run_single(i0s, i1s):
        pairs = [(jnp.asarray(a), jnp.asarray(b)) for a, b in zip(i0s, i1s)]
        return [single(a, b).block_until_ready() for a, b in pairs]

    def run_batched(i0s, i1s):
        return batched(jnp.asarray(i0s), jnp.asarray(i1s)).block_until_ready()

    return ({"jax tvl1, 1 pair/call": run_single, f"jax tvl1_batch, {len(i0s)} pairs/call": run_batched},
            {"tvl1": compile_single, "tvl1_batch": compile_batched})


def skimage_method(**kwargs):
    """``optical_flow_tvl1(reference_image=I0, moving_image=I1)`` returns
    (v, u), rows first, with moving(x + w) = reference(x): the project's
    convention up to the component order. Images are passed on 0..1, the
    range scikit-image converts integer images to and its defaults assume."""

    def run(i0s, i1s):
        return [optical_flow_tvl1(a / 255.0, b / 255.0, **kwargs)[::-1].transpose(1, 2, 0)
                for a, b in zip(i0s, i1s)]

    return run


def opencv_method():
    """OpenCV DualTVL1 with its defaults. ``calc(I0, I1)`` returns (u, v) with
    I1(x + w) = I0(x), the project's convention. OpenCV multiplies float
    inputs by 255 (it expects 0..1 floats), so images are passed on 0..1."""
    solver = cv2.optflow.DualTVL1OpticalFlow_create()

    def run(i0s, i1s):
        return [solver.calc(a / 255.0, b / 255.0, None) for a, b in zip(i0s, i1s)]

    return run


# --------------------------------------------------------------------------
# Measurement.
# --------------------------------------------------------------------------


def epe(flow_est, flow_true, border):
    """Per-pair mean end-point error over the interior: (N,)."""
    inner = (slice(None), slice(border, -border), slice(border, -border))
    return np.linalg.norm(np.asarray(flow_est)[inner] - flow_true[inner], axis=-1).mean(axis=(1, 2))


def check_convention(methods, size, border):
    """Every method (one pair per call) must recover a pure translation
    (u, v) = (0.7, -0.4) px to within 0.1 px (median over the interior), so
    that a sign or component-order mistake fails loudly rather than
    inflating an EPE."""
    rng = np.random.default_rng(12345)
    truth = np.broadcast_to(np.array([0.7, -0.4]), (size, size, 2))
    i0, i1, _ = make_pair(fourier_texture(rng, size / REF_SIZE), truth)
    for name, run in methods.items():
        flow = np.asarray(run(i0[None], i1[None]))[0, border:-border, border:-border]
        got = np.median(flow.reshape(-1, 2), axis=0)
        if np.abs(got - truth[0, 0]).max() > 0.1:
            sys.exit(f"{name}: translation (0.7, -0.4) read as ({got[0]:.2f}, {got[1]:.2f}); "
                     "flow convention or input range is wrong")


def timed(methods, i0s, i1s, repeats):
    """{name: (flows (N, H, W, 2), median seconds per pair)}. The passes are
    interleaved across methods, so that a burst of load from another process
    hits every method rather than one."""
    flows, times = {}, {name: [] for name in methods}
    for _ in range(repeats):
        for name, run in methods.items():
            start = time.perf_counter()
            flows[name] = run(i0s, i1s)
            times[name].append((time.perf_counter() - start) / len(i0s))
    return {name: (np.asarray(flows[name]), statistics.median(times[name])) for name in methods}


def cpu_model():
    """The CPU's model name (Linux), else the machine architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def write_json(path, results):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=32, help="number of image pairs (half textures, half faces)")
    parser.add_argument("--size", type=int, default=112, help="image side in px")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--border", type=int, default=8, help="px excluded from the EPE at every edge")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes over all pairs (median reported)")
    parser.add_argument("--json", help="also write the results to this path")
    args = parser.parse_args()

    scenes, i0s, i1s, flows = make_pairs(args.pairs, args.size, args.seed)
    methods, compile_s = jax_methods(i0s, i1s)
    jax_single, jax_batched = methods
    references = {
        "skimage, defaults": skimage_method(),
        "skimage, lambda=0.15 (attachment 38.25)": skimage_method(attachment=0.15 * 255),
    }
    if hasattr(cv2, "optflow"):
        references["opencv DualTVL1, defaults"] = opencv_method()
    else:
        print("OpenCV DualTVL1 skipped: cv2.optflow is missing (install opencv-contrib-python "
              "in place of opencv-python)\n")
    check_convention({jax_single: methods[jax_single], **references}, args.size, args.border)
    methods.update(references)

    rows = {"zero flow": {"epe": epe(np.zeros_like(flows), flows, args.border), "ms": None}}
    for name, (est, seconds) in timed(methods, i0s, i1s, args.repeats).items():
        rows[name] = {"epe": epe(est, flows, args.border), "ms": 1e3 * seconds}

    def epe_by_scene(e):
        return {**{s: float(e[scenes == s].mean()) for s in SCENES}, "all": float(e.mean())}

    machine = f"{cpu_model()}, {os.cpu_count()} cores; JAX backend {jax.default_backend()}"
    print(f"{args.pairs} pairs {args.size}x{args.size}, EPE over the interior (border {args.border} px), "
          f"time = median of {args.repeats} passes; {machine}\n")
    print(f"{'method':42s} {'EPE texture':>11s} {'EPE face':>9s} {'EPE all':>8s} {'ms/pair':>8s}")
    for name, row in rows.items():
        e = epe_by_scene(row["epe"])
        ms = "" if row["ms"] is None else f"{row['ms']:.1f}"
        print(f"{name:42s} {e['texture']:11.3f} {e['face']:9.3f} {e['all']:8.3f} {ms:>8s}")
    print(f"\ncompile (trace + XLA): tvl1 {compile_s['tvl1']:.1f} s, tvl1_batch {compile_s['tvl1_batch']:.1f} s")

    def ratios(ref):
        return {"epe_jax / epe_ref": float(rows[jax_single]["epe"].mean() / rows[ref]["epe"].mean()),
                "ms_jax_single / ms_ref": rows[jax_single]["ms"] / rows[ref]["ms"],
                "ms_jax_batched / ms_ref": rows[jax_batched]["ms"] / rows[ref]["ms"]}

    best = min(references, key=lambda n: rows[n]["epe"].mean())
    fastest = min(references, key=lambda n: rows[n]["ms"])
    vs = {ref: ratios(ref) for ref in references}
    vs["best EPE / fastest reference"] = {
        "epe_jax / epe_ref": vs[best]["epe_jax / epe_ref"],
        "ms_jax_single / ms_ref": vs[fastest]["ms_jax_single / ms_ref"],
        "ms_jax_batched / ms_ref": vs[fastest]["ms_jax_batched / ms_ref"],
        "best_epe_reference": best,
        "fastest_reference": fastest}
    print(f"\n{'ratios, JAX / reference':42s} {'EPE':>8s} {'ms 1/call':>10s} {'ms batched':>11s}")
    for ref, r in vs.items():
        print(f"{'vs ' + ref:42s} {r['epe_jax / epe_ref']:8.2f} {r['ms_jax_single / ms_ref']:10.2f} "
              f"{r['ms_jax_batched / ms_ref']:11.2f}")
    print(f"(best EPE: {best}; fastest: {fastest})")

    if args.json:
        write_json(args.json, {
            "config": vars(args),
            "machine": machine,
            "versions": {"jax": jax.__version__, "numpy": np.__version__, "scikit-image": skimage.__version__,
                         "opencv": cv2.__version__},
            "methods": {name: {"epe": epe_by_scene(row["epe"]), "ms_per_pair": row["ms"]}
                        for name, row in rows.items()},
            "compile_s": compile_s,
            "ratios_jax_over_reference": vs,
        })


if __name__ == "__main__":
    main()
