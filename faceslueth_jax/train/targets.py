"""The machines a sweep can be planned for, with or without them at hand.

A target is a set of devices the compiler can build programs for, and each chip's
published figures: memory, peak dense FLOP/s per precision, memory bandwidth.

  local            the devices of this process (``jax.devices()``)
  tpu:KIND:TOPO    a TPU slice, e.g. ``tpu:v5e:4x4`` (16 chips, 4 hosts), ``tpu:v5p:2x2x4``;
                   ahead of time through libtpu (``jax.experimental.topologies``),
                   no TPU needed (``requirements-tpu.txt``)
  gpu:KIND:N[xH]   H nodes of N GPUs, e.g. ``gpu:h100:8``, ``gpu:h200:8x2``; ahead of
                   time through jax's CUDA plugin and an XLA ``GpuTargetConfig`` made
                   from the chip's published figures (``gpu_target_config``), no GPU needed

Set ``JAX_PLATFORMS=cpu`` when planning for a TPU or GPU without one (``plan`` does):
then ``import jax`` does not probe for the accelerator.

Roofline: an epoch needs at least max(FLOPs / peak, bytes / bandwidth) seconds. The
peak depends on the matmul precision (``train.precision``): 'default' runs f32 dots
as one bf16 pass on TPU and as TF32 on GPU; 'highest' as full f32 (6 bf16 passes on
TPU, the CUDA cores' FP32 rate on GPU). It is a lower bound, labelled an estimate.
"""

from __future__ import annotations

import dataclasses
import os

import jax

TPU_INSTALL = "pip install -r requirements-tpu.txt"
GPU_INSTALL = 'pip install "jax[cuda12]==0.10.2"'


@dataclasses.dataclass(frozen=True)
class Chip:
    """One accelerator's published figures."""
    name: str
    memory_bytes: int
    bandwidth: float              # bytes/s of device memory
    peak_flops: dict              # precision ('default' | 'highest') -> dense FLOP/s
    source: str                   # where the figures come from


# TPU: Google Cloud's system-architecture pages (HBM per chip, bf16 peak, HBM bandwidth);
# f32 at 'highest' is taken as 1/6 of the bf16 peak (six bf16 passes).
TPU_CHIPS = {
    "v4": Chip("TPU v4", 32 << 30, 1228e9, {"default": 275e12, "highest": 275e12 / 6},
               "cloud.google.com/tpu/docs/v4"),
    "v5e": Chip("TPU v5 lite", 16 << 30, 819e9, {"default": 197e12, "highest": 197e12 / 6},
                "cloud.google.com/tpu/docs/v5e"),
    "v5p": Chip("TPU v5p", 95 << 30, 2765e9, {"default": 459e12, "highest": 459e12 / 6},
                "cloud.google.com/tpu/docs/v5p"),
    "v6e": Chip("TPU v6 lite", 32 << 30, 1640e9, {"default": 918e12, "highest": 918e12 / 6},
                "cloud.google.com/tpu/docs/v6e"),
}


@dataclasses.dataclass(frozen=True)
class GpuChip:
    """A GPU's published figures, enough for XLA's ``GpuTargetConfig``."""
    chip: Chip
    sm_count: int
    clock_ghz: float
    l2_bytes: int
    shared_per_sm: int        # bytes of shared memory per SM
    shared_per_block_optin: int
    fp32_per_sm: int          # FP32 lanes per SM
    compute_capability: tuple


# NVIDIA's data sheets (SXM parts; dense tensor-core peaks: bf16 at 'default' would be
# higher, f32 matmuls run as TF32 there; 'highest' is the FP32 CUDA-core rate).
GPU_CHIPS = {
    "h100": GpuChip(Chip("NVIDIA H100 80GB HBM3", 80 << 30, 3.35e12,
                         {"default": 494.7e12, "highest": 66.9e12, "bf16": 989.4e12},
                         "NVIDIA H100 Tensor Core GPU datasheet (SXM)"),
                    sm_count=132, clock_ghz=1.98, l2_bytes=50 << 20, shared_per_sm=228 << 10,
                    shared_per_block_optin=227 << 10, fp32_per_sm=128,
                    compute_capability=(9, 0)),
    "a100": GpuChip(Chip("NVIDIA A100-SXM4-80GB", 80 << 30, 2.039e12,
                         {"default": 156e12, "highest": 19.5e12, "bf16": 312e12},
                         "NVIDIA A100 Tensor Core GPU datasheet (SXM 80GB)"),
                    sm_count=108, clock_ghz=1.41, l2_bytes=40 << 20, shared_per_sm=164 << 10,
                    shared_per_block_optin=163 << 10, fp32_per_sm=64,
                    compute_capability=(8, 0)),
}
# the H200: the H100's chip with 141 GB of HBM3e at 4.8 TB/s
GPU_CHIPS["h200"] = dataclasses.replace(GPU_CHIPS["h100"], chip=dataclasses.replace(
    GPU_CHIPS["h100"].chip, name="NVIDIA H200", memory_bytes=141 * 10**9, bandwidth=4.8e12,
    source="NVIDIA H200 Tensor Core GPU datasheet (SXM)"))


class TargetError(ValueError):
    """A target that cannot be had here; the message says why and what to install."""


@dataclasses.dataclass
class Target:
    spec: str
    platform: str           # 'tpu' | 'gpu' | the local platform
    devices: list
    num_hosts: int
    chip: Chip | None       # None: local devices without published figures (CPU)
    ahead_of_time: bool     # compiled for, not run on

    @property
    def num_devices(self) -> int:
        return len(self.devices)

    @property
    def memory_budget(self) -> int:
        """Bytes a program may use per chip (0: let the devices say, ``memory``)."""
        from faceslueth_jax.train import memory
        return int(self.chip.memory_bytes * memory.HEADROOM) if self.ahead_of_time else 0

    def describe(self) -> dict:
        return {"target": self.spec, "platform": self.platform, "devices": self.num_devices,
                "hosts": self.num_hosts, "chip": self.chip.name if self.chip else
                str(self.devices[0].device_kind), "ahead_of_time": self.ahead_of_time,
                **({"chip_memory_bytes": self.chip.memory_bytes,
                    "chip_figures": self.chip.source} if self.chip else {})}


def gpu_target_config(gpu: GpuChip) -> str:
    """XLA's ``GpuTargetConfig`` text proto for ``gpu``, from its published figures."""
    c = gpu.chip
    major, minor = gpu.compute_capability
    return f"""gpu_device_info {{
  threads_per_block_limit: 1024
  threads_per_warp: 32
  shared_memory_per_block: 49152
  shared_memory_per_core: {gpu.shared_per_sm}
  shared_memory_per_block_optin: {gpu.shared_per_block_optin}
  threads_per_core_limit: 2048
  core_count: {gpu.sm_count}
  fpus_per_core: {gpu.fp32_per_sm}
  block_dim_limit_x: 2147483647
  block_dim_limit_y: 65535
  block_dim_limit_z: 65535
  memory_bandwidth: {int(c.bandwidth)}
  l2_cache_size: {gpu.l2_bytes}
  clock_rate_ghz: {gpu.clock_ghz}
  device_memory_size: {c.memory_bytes}
  registers_per_core_limit: 65536
  registers_per_block_limit: 65536
  cuda_compute_capability {{ major: {major} minor: {minor} }}
}}
platform_name: "CUDA"
dnn_version_info {{ major: 9 minor: 8 patch: 0 }}
device_description_str: "{c.name}"
"""


def resolve(spec: str) -> Target:
    """The target named by ``spec`` (see the module docstring); TargetError when it
    cannot be had here, with the install line."""
    kind, _, rest = spec.partition(":")
    if kind == "local":
        devices = jax.devices()
        hosts = len({d.process_index for d in devices})
        return Target(spec, devices[0].platform, devices, hosts, None, ahead_of_time=False)
    if kind == "tpu":
        return _tpu(spec, rest)
    if kind == "gpu":
        return _gpu(spec, rest)
    raise TargetError(f"--target={spec!r}: expected local, tpu:KIND:TOPOLOGY (e.g. "
                      f"tpu:v5e:4x4) or gpu:KIND:N[xHOSTS] (e.g. gpu:h100:8)")


def _tpu(spec: str, rest: str) -> Target:
    name, _, topology = rest.partition(":")
    if name not in TPU_CHIPS or not topology:
        raise TargetError(f"--target={spec!r}: TPU kinds are {sorted(TPU_CHIPS)}, with a "
                          f"topology such as 2x2, 4x4 or 2x2x4 (e.g. tpu:v5e:4x4)")
    try:
        import libtpu  # noqa: F401  (only to tell a missing install apart)
    except ImportError:
        raise TargetError(f"--target={spec}: planning for TPUs needs libtpu ({TPU_INSTALL})") \
            from None
    from jax.experimental import topologies
    os.environ.setdefault("TPU_ACCELERATOR_TYPE", f"{name}-{_chips(topology)}")
    # compiling needs no chip: let several planning processes load libtpu at once
    os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
    try:
        desc = topologies.get_topology_desc(f"{name}:{topology}", "tpu")
    except Exception as e:  # noqa: BLE001 - libtpu raises RuntimeError / XlaRuntimeError
        raise TargetError(f"--target={spec}: libtpu knows no such topology "
                          f"({str(e).splitlines()[0][:200]})") from None
    devices = list(desc.devices)
    hosts = len({d.process_index for d in devices})
    return Target(spec, "tpu", devices, hosts, TPU_CHIPS[name], ahead_of_time=True)


def _chips(topology: str) -> int:
    count = 1
    for part in topology.split("x"):
        count *= int(part)
    return count


def _gpu(spec: str, rest: str) -> Target:
    name, _, shape = rest.partition(":")
    per_node, _, nodes = (shape or "1").partition("x")
    if name not in GPU_CHIPS or not per_node.isdigit() or not (nodes or "1").isdigit():
        raise TargetError(f"--target={spec!r}: GPU kinds are {sorted(GPU_CHIPS)}, with N GPUs "
                          f"per node and optionally xH nodes (e.g. gpu:h100:8, gpu:h200:8x2)")
    try:
        import jax_plugins.xla_cuda12  # noqa: F401
    except ImportError:
        raise TargetError(f"--target={spec}: planning for GPUs needs jax's CUDA plugin "
                          f"({GPU_INSTALL}; about 5.5 GB)") from None
    from jax.experimental import topologies
    gpu = GPU_CHIPS[name]
    try:
        desc = topologies.get_topology_desc(
            platform="cuda", topology_name="cuda", target_config=gpu_target_config(gpu),
            topology=f"1x{int(nodes or 1)}x{int(per_node)}")
    except Exception as e:  # noqa: BLE001
        raise TargetError(f"--target={spec}: the CUDA plugin cannot describe it "
                          f"({str(e).splitlines()[0][:200]})") from None
    devices = list(desc.devices)
    hosts = len({d.process_index for d in devices})
    return Target(spec, "gpu", devices, hosts, gpu.chip, ahead_of_time=True)
