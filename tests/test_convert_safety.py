"""Converting a PyTorch checkpoint never unpickles code it was not asked to: the
file's pickle is scanned first, without torch, and a crafted one is refused."""

from __future__ import annotations

import collections
import os
import pickle
import subprocess
import sys
import zipfile

import pytest

from faceslueth_jax.reference import convert, pickle_scan
from tests.conftest import REPO


class _RunsCode:
    """What a malicious checkpoint holds: unpickling it calls os.system."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def _torch_zip(path, payload):
    """A file in torch's zip layout (archive/data.pkl) holding ``payload`` pickled."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(payload, protocol=2))
        archive.writestr("archive/version", "3\n")
    return path


def test_a_crafted_pickle_is_refused_before_anything_is_loaded(tmp_path):
    path = _torch_zip(tmp_path / "crafted.pth", {"model": _RunsCode()})
    assert ("posix", "system") in pickle_scan.globals_named(path) or \
        ("os", "system") in pickle_scan.globals_named(path)
    with pytest.raises(convert.UnsafeCheckpoint, match="--allow_pickle"):
        convert.load_torch_checkpoint(path)
    bare = tmp_path / "legacy.pth"  # torch < 1.6 wrote a bare pickle
    bare.write_bytes(pickle.dumps(_RunsCode(), protocol=4))  # STACK_GLOBAL
    with pytest.raises(convert.UnsafeCheckpoint, match="system"):
        convert.load_torch_checkpoint(bare)
    assert not (tmp_path / "pwned").exists()


def test_the_command_refuses_it_in_one_line_and_writes_nothing(tmp_path):
    path = _torch_zip(tmp_path / "crafted.pth", _RunsCode())
    proc = subprocess.run([sys.executable, "-m", "faceslueth_jax.reference.convert",
                           f"--from_torch={path}", f"--out={tmp_path / 'out'}",
                           f"--config={REPO / 'configs/reference_casme2_5class.py'}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "--allow_pickle" in error[0], proc.stderr[-2000:]
    assert not (tmp_path / "out").exists() and not (tmp_path / "pwned").exists()
    help_text = subprocess.run([sys.executable, "-m", "faceslueth_jax.reference.convert",
                                "--helpfull"], cwd=REPO, capture_output=True, text=True,
                               timeout=300).stdout
    assert "allow_pickle" in help_text and "UNSAFE" in help_text


def test_a_state_dict_names_only_safe_globals(tmp_path):
    """What torch.save(net.state_dict()) writes: an OrderedDict of tensors rebuilt by
    torch._utils._rebuild_tensor_v2 from torch.FloatStorage (the same opcodes, here
    pickled from stand-ins of those names)."""
    class Storage:
        __module__, __qualname__ = "torch", "FloatStorage"

    def _rebuild_tensor_v2(*args):
        return args
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = \
        "torch._utils", "_rebuild_tensor_v2"

    class Tensor:
        def __reduce__(self):
            return (_rebuild_tensor_v2, (Storage, 0, (2,), (1,)))

    state = collections.OrderedDict([("fc.weight", Tensor()), ("fc.bias", Tensor())])
    import types
    fake = {"torch": types.ModuleType("torch"), "torch._utils": types.ModuleType("torch._utils")}
    fake["torch"].FloatStorage = Storage
    fake["torch._utils"]._rebuild_tensor_v2 = _rebuild_tensor_v2
    saved = {k: sys.modules.get(k) for k in fake}
    sys.modules.update(fake)
    try:
        path = _torch_zip(tmp_path / "state.pth", state)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k)
            else:
                sys.modules[k] = v
    named = set(pickle_scan.globals_named(path))
    assert {("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
            ("torch", "FloatStorage")} <= named
    assert pickle_scan.unsafe_globals(path) == []


def test_not_a_pickle_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="notes.pth"):
        convert.load_torch_checkpoint(path)


def test_a_zip_bomb_is_refused_without_unpacking_it(tmp_path):
    """A .pkl member that inflates past the bound is refused after reading the bound,
    whatever size its header claims."""
    path = tmp_path / "bomb.pth"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\0" * (pickle_scan.MAX_PICKLE_BYTES + 1))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(pickle_scan.UnreadablePickle, match="unpacks to more than"):
        pickle_scan.globals_named(path)
