"""The PyTorch reference FaceSleuth model, built from a local checkout (needs torch).

For the parity test and ``bench/vs_reference.py`` only; nothing else here imports
torch. The reference model class ``MMNet`` sits in its training script
``CASME2_5.py``, whose module level imports data-loading packages (pandas, timm,
torchvision, cv2) and whose ``__main__`` trains. Only the class definition is
taken from the script's syntax tree and run with the modules it uses: torch and
the checkout's own ``CA_block.py`` and ``swin_transformer.py``.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import pathlib
import subprocess

ENV = "FACESLEUTH_REFERENCE_DIR"
FILES = ("CASME2_5.py", "CA_block.py", "swin_transformer.py")


def torch():
    try:
        import torch as torch_module
    except ImportError as e:
        raise ImportError("the PyTorch reference needs torch, which is not in "
                          "requirements.txt: pip install torch==2.13.0 (a CPU build)") from e
    return torch_module


def checkout(reference_dir=None) -> pathlib.Path:
    """The checkout named by ``reference_dir`` or $FACESLEUTH_REFERENCE_DIR."""
    reference_dir = reference_dir or os.environ.get(ENV)
    if not reference_dir:
        raise FileNotFoundError(f"no reference checkout: set {ENV} to a clone of "
                                "https://github.com/Svardfox/FaceSleuth")
    path = pathlib.Path(reference_dir).expanduser()
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{path} is not a FaceSleuth checkout: {missing} missing")
    return path


def commit(path: pathlib.Path) -> str:
    """The checkout's git commit, or 'unknown' outside git."""
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _module(path: pathlib.Path, name: str):
    spec = importlib.util.spec_from_file_location(f"faceslueth_reference_{name}", path / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def modules(reference_dir=None) -> dict:
    """{'CA_block', 'swin_transformer', 'MMNet'} from the checkout."""
    t = torch()
    path = checkout(reference_dir)
    ca_block, swin = _module(path, "CA_block"), _module(path, "swin_transformer")
    script = path / "CASME2_5.py"
    tree = ast.parse(script.read_text(encoding="utf-8"), str(script))
    found = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MMNet"]
    if not found:
        raise ValueError(f"{script} defines no class MMNet")
    namespace = {"torch": t, "nn": t.nn, "F": t.nn.functional,
                 "SwinTransformer": swin.SwinTransformer,
                 "resnet18_pos_attention": ca_block.resnet18_pos_attention,
                 # torchvision's Resize: built in MMNet.__init__, never called.
                 "Resize": lambda *args, **kwargs: t.nn.Identity()}
    exec(compile(ast.Module(body=found, type_ignores=[]), str(script), "exec"), namespace)
    return {"CA_block": ca_block, "swin_transformer": swin, "MMNet": namespace["MMNet"]}


def build(reference_dir=None, seed: int = 0, randomise_batch_norm: bool = True):
    """The reference MMNet with torch's initialisation under ``seed``. With
    ``randomise_batch_norm`` every BatchNorm's scale, shift and running statistics
    are drawn too (they start at 1, 0, 0, 1, which would hide a mixed-up mapping)."""
    t = torch()
    t.manual_seed(seed)
    net = modules(reference_dir)["MMNet"]()
    if randomise_batch_norm:
        g = t.Generator().manual_seed(seed + 1)
        for m in net.modules():
            if isinstance(m, (t.nn.BatchNorm1d, t.nn.BatchNorm2d)):
                n = m.num_features
                m.weight.data = 0.5 + t.rand(n, generator=g)
                m.bias.data = 0.1 * t.randn(n, generator=g)
                m.running_mean = 0.1 * t.randn(n, generator=g)
                m.running_var = 0.5 + t.rand(n, generator=g)
    return net


def soa_angles(net) -> list[float]:
    """The angle (radians) of every SOA layer of the reference, in stage order."""
    return [float(m.angle().detach()) for name, m in net.main_branch.named_modules()
            if type(m).__name__ == "OrientationPoolingVec"]
