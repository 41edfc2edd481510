"""Converting a PyTorch checkpoint never unpickles code it was not asked to: the
file's pickle is scanned first, without torch, and a crafted one is refused."""

from __future__ import annotations

import collections
import os
import pickle
import subprocess
import sys
import zipfile
from unittest import mock

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
    with mock.patch.dict(sys.modules, fake):  # the stand-ins while pickling, then restored
        path = _torch_zip(tmp_path / "state.pth", state)
    named = set(pickle_scan.globals_named(path))
    assert {("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
            ("torch", "FloatStorage")} <= named
    assert pickle_scan.unsafe_globals(path) == []


def test_not_a_pickle_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="notes.pth"):
        convert.load_torch_checkpoint(path)


def test_a_zip_bomb_is_refused_without_unpacking_it(tmp_path, monkeypatch):
    """A .pkl member that inflates past the bound is refused after reading the bound,
    whatever size its header claims; one that is no pickle, at its first byte."""
    monkeypatch.setattr(pickle_scan, "MAX_PICKLE_BYTES", 1 << 20)
    path = tmp_path / "bomb.pth"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(b"\0" * (1 << 20), protocol=4))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(pickle_scan.UnreadablePickle, match="data.pkl unpacks to more than"):
        pickle_scan.globals_named(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\0" * (64 << 20))
    with pytest.raises(pickle_scan.UnreadablePickle, match="not a readable pickle"):
        pickle_scan.globals_named(path)


# --- crafted pickles, built opcode by opcode ------------------------------------------
# Each would run `touch <tmp>/pwned` under pickle.loads; the decoys make a scanner that
# emulates the pickle machine's stack see only collections.OrderedDict. Refusal must
# come from resolving globals through an allow-list, not from reading the opcodes.

def _s(text: str) -> bytes:
    """SHORT_BINUNICODE or BINUNICODE pushing ``text``."""
    data = text.encode()
    if len(data) < 256:
        return pickle.SHORT_BINUNICODE + bytes([len(data)]) + data
    return pickle.BINUNICODE + len(data).to_bytes(4, "little") + data


_DECOYS = _s("collections") + _s("OrderedDict")
_PROTO4 = pickle.PROTO + b"\x04"


def _call(cmd: str) -> bytes:
    """Call what is on top of the stack with ``cmd``, then STOP."""
    return _s(cmd) + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP


def _crafted(kind: str, target) -> bytes:
    cmd = f"touch {target}"
    if kind == "decoys_popped_first":  # the order of the report: decoys, POP POP, os.system
        return _PROTO4 + _DECOYS + pickle.POP + pickle.POP + _s("os") + _s("system") + \
            pickle.STACK_GLOBAL + _call(cmd)
    if kind == "decoys_popped_last":  # os, system under the decoys, which are popped
        return _PROTO4 + _s("os") + _s("system") + _DECOYS + pickle.POP + pickle.POP + \
            pickle.STACK_GLOBAL + _call(cmd)
    if kind == "pop_mark":
        return _PROTO4 + _s("os") + _s("system") + pickle.MARK + _DECOYS + pickle.POP_MARK + \
            pickle.STACK_GLOBAL + _call(cmd)
    if kind == "dup":  # the decoys consumed by TUPLE2, the tuple DUPed and both popped
        return _PROTO4 + _s("os") + _s("system") + _DECOYS + pickle.TUPLE2 + pickle.DUP + \
            pickle.POP + pickle.POP + pickle.STACK_GLOBAL + _call(cmd)
    if kind in ("memo_put", "memoize"):  # the memo holds 'os', 'system'; a scanner's, decoys
        def put(i):
            return pickle.MEMOIZE if kind == "memoize" else pickle.BINPUT + bytes([i])
        return (_PROTO4 + _s("os") + _s("collections") + pickle.POP + put(0) + pickle.POP +
                _s("system") + _s("OrderedDict") + pickle.POP + put(1) + pickle.POP +
                pickle.BINGET + b"\x00" + pickle.BINGET + b"\x01" + pickle.STACK_GLOBAL +
                _call(cmd))
    if kind == "allowed_global_first":  # collections.OrderedDict resolved, popped, then os.system
        return _PROTO4 + _s("os") + _s("system") + _DECOYS + pickle.STACK_GLOBAL + pickle.POP + \
            pickle.STACK_GLOBAL + _call(cmd)
    if kind == "builtins_eval":
        return _PROTO4 + _s("builtins") + _s("eval") + _DECOYS + pickle.POP + pickle.POP + \
            pickle.STACK_GLOBAL + _call(f"__import__('os').system({cmd!r})")
    if kind == "builtins_getattr":  # getattr(getattr(os.path, 'os'), 'system')(cmd)
        getattr_ = _s("builtins") + _s("getattr") + _DECOYS + pickle.POP + pickle.POP + \
            pickle.STACK_GLOBAL
        return (_PROTO4 + getattr_ + pickle.BINPUT + b"\x00" +
                _s("os") + _s("path") + _DECOYS + pickle.POP + pickle.POP + pickle.STACK_GLOBAL +
                _s("os") + pickle.TUPLE2 + pickle.REDUCE + pickle.BINPUT + b"\x01" + pickle.POP +
                pickle.BINGET + b"\x00" + pickle.BINGET + b"\x01" + _s("system") +
                pickle.TUPLE2 + pickle.REDUCE + _call(cmd))
    if kind == "attribute_chain":  # protocol 4 resolves dotted names: os.path.os.system
        return _PROTO4 + _s("os") + _s("path.os.system") + _DECOYS + pickle.POP + pickle.POP + \
            pickle.STACK_GLOBAL + _call(cmd)
    if kind == "torch_utils_chain":  # an allowed function's globals (torch's os, builtins...)
        return (_PROTO4 + _s("torch._utils") + _s("_rebuild_tensor_v2.__globals__") + _DECOYS +
                pickle.POP + pickle.POP + pickle.STACK_GLOBAL + pickle.STOP)
    if kind == "obj":  # OBJ calls the class below MARK with the rest
        return _PROTO4 + pickle.MARK + _s("os") + _s("system") + _DECOYS + pickle.POP + \
            pickle.POP + pickle.STACK_GLOBAL + _s(cmd) + pickle.OBJ + pickle.STOP
    if kind == "inst":  # INST names its global inline
        return b"(" + pickle.STRING + repr(cmd).encode() + b"\n" + pickle.INST + \
            b"os\nsystem\n" + pickle.STOP
    if kind == "global_then_decoys":  # GLOBAL of an allowed name, then a disallowed one
        return (pickle.GLOBAL + b"collections\nOrderedDict\n" + pickle.POP +
                pickle.GLOBAL + b"os\nsystem\n" + pickle.STRING + repr(cmd).encode() + b"\n" +
                pickle.TUPLE1 + pickle.REDUCE + pickle.STOP)
    raise KeyError(kind)


_LIVE = ["decoys_popped_first", "decoys_popped_last", "pop_mark", "dup", "memo_put", "memoize",
         "allowed_global_first", "builtins_eval", "builtins_getattr", "attribute_chain", "obj",
         "inst", "global_then_decoys"]
_CRAFTED = _LIVE + ["torch_utils_chain"]


@pytest.mark.parametrize("kind", _LIVE)
def test_the_crafted_pickles_would_run_code(tmp_path, kind):
    """The payloads below are live: plain pickle.loads runs the command (here a touch
    in tmp_path), so their refusal is not vacuous."""
    target = tmp_path / "live"
    pickle.loads(_crafted(kind, target))
    assert target.exists()


def _refused(path):
    with pytest.raises(convert.UnsafeCheckpoint, match="--allow_pickle") as raised:
        convert.load_torch_checkpoint(path)
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kind", _CRAFTED)
def test_decoys_do_not_get_a_crafted_pickle_past_the_check(tmp_path, kind):
    target = tmp_path / "pwned"
    data = _crafted(kind, target)
    bare = tmp_path / "bare.pth"
    bare.write_bytes(data)
    zipped = tmp_path / "zipped.pth"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/version", "3\n")
    for path in (bare, zipped):
        message = _refused(path)
        assert "collections.OrderedDict" not in message, message
    assert not target.exists()


def test_the_reported_bypass_names_os_system(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "crafted.pth"
    path.write_bytes(_crafted("decoys_popped_last", target))
    message = _refused(path)
    assert "os.system" in message, message
    assert ("os", "system") in pickle_scan.globals_named(path)
    assert pickle_scan.unsafe_globals(path) == ["os.system"]
    assert not target.exists()


def test_a_global_from_the_extension_registry_is_refused(tmp_path):
    import copyreg
    code = 0x7ff0f00d
    copyreg.add_extension("os", "system", code)
    try:
        target = tmp_path / "pwned"
        path = tmp_path / "ext.pth"
        path.write_bytes(_PROTO4 + pickle.EXT4 + code.to_bytes(4, "little") +
                         _call(f"touch {target}"))
        assert "os.system" in _refused(path)
        assert not target.exists()
    finally:
        copyreg.remove_extension("os", "system", code)


def test_a_gadget_past_a_stand_in_never_runs(tmp_path):
    """Whatever an allowed global returns under the check, it is no handle to code:
    calling it, or what it returned, with a payload runs nothing."""
    target = tmp_path / "pwned"
    path = tmp_path / "gadget.pth"
    # torch._utils._rebuild_tensor_v2(cmd) called, then what it returned called with cmd
    cmd = _s(f"touch {target}") + pickle.TUPLE1
    path.write_bytes(_PROTO4 + _s("torch._utils") + _s("_rebuild_tensor_v2") +
                     pickle.STACK_GLOBAL + cmd + pickle.REDUCE + cmd + pickle.REDUCE + pickle.STOP)
    with pytest.raises(pickle_scan.UnreadablePickle):
        convert.load_torch_checkpoint(path)
    assert not target.exists()


def _state_dict_pickle() -> bytes:
    """What torch.save(net.state_dict()) writes to archive/data.pkl: an OrderedDict
    (with _metadata) of tensors and a parameter rebuilt from persistent storages,
    pickled from stand-ins of torch's names (torch itself is not needed)."""
    import io
    import math
    import types

    class FloatStorage:
        __module__, __qualname__ = "torch", "FloatStorage"

    def _rebuild_tensor_v2(*args):
        return args

    def _rebuild_parameter(*args):
        return args
    fake = {"torch": types.ModuleType("torch"), "torch._utils": types.ModuleType("torch._utils")}
    fake["torch"].FloatStorage = FloatStorage
    for f in (_rebuild_tensor_v2, _rebuild_parameter):
        f.__module__, f.__qualname__ = "torch._utils", f.__name__
        setattr(fake["torch._utils"], f.__name__, f)

    class Storage:
        def __init__(self, key):
            self.key = key

    class Reduced:
        def __init__(self, *reduced):
            self.reduced = reduced

        def __reduce__(self):
            return self.reduced

    def tensor(key, shape, parameter=False):
        stride = tuple(math.prod(shape[i + 1:]) for i in range(len(shape)))
        t = Reduced(_rebuild_tensor_v2, (Storage(key), 0, shape, stride, False,
                                         collections.OrderedDict()))
        return Reduced(_rebuild_parameter, (t, True, collections.OrderedDict())) if parameter \
            else t

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", 4)
            return None

    state = collections.OrderedDict([
        ("fc.weight", tensor("0", (2, 2))), ("fc.bias", tensor("1", (2,))),
        ("bn.num_batches_tracked", tensor("2", ())), ("head", tensor("3", (4,), True))])
    state._metadata = collections.OrderedDict([("", {"version": 1}), ("fc", {"version": 1})])
    out = io.BytesIO()
    with mock.patch.dict(sys.modules, fake):  # the stand-ins while pickling, then restored
        Pickler(out, protocol=2).dump(state)
    return out.getvalue()


def test_a_state_dict_passes_the_check(tmp_path):
    data = _state_dict_pickle()
    path = tmp_path / "state.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/data/0", b"\0" * 16)
    bare = tmp_path / "bare.pth"
    bare.write_bytes(data)
    for p in (path, bare):
        assert pickle_scan.unsafe_globals(p) == []
        assert set(pickle_scan.globals_named(p)) == {
            ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
            ("torch._utils", "_rebuild_parameter"), ("torch", "FloatStorage")}
        try:
            import torch  # noqa: F401
        except ImportError:
            with pytest.raises(ImportError, match="needs torch"):  # past the check
                convert.load_torch_checkpoint(p)


def test_a_legacy_file_is_checked_past_its_magic_number(tmp_path):
    """torch < 1.6 wrote pickles one after another (magic number, protocol, sys info,
    the state_dict, the storage keys), then raw storage bytes."""
    target = tmp_path / "pwned"
    head = b"".join(pickle.dumps(x, protocol=2) for x in (
        0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True}))
    path = tmp_path / "legacy.pth"
    path.write_bytes(head + _crafted("decoys_popped_last", target) + pickle.dumps(["0"]))
    assert "os.system" in _refused(path)
    path.write_bytes(head + _state_dict_pickle() + pickle.dumps(["0", "1"], protocol=2)
                     + b"\0" * 64)
    assert pickle_scan.unsafe_globals(path) == []
    assert not target.exists()


@pytest.mark.parametrize("data", [
    b"\x80\x04\x95",  # cut inside a frame's length
    pickle.dumps(collections.OrderedDict(a=1), protocol=2)[:-3],  # truncated
    b"\x80\x02}q\x00(X\x01\x00\x00\x00aK\x01u",  # no STOP
    b"\x80\x02\xff.",  # not an opcode
    b"\x80\x02c" + b"x" * 300,  # a GLOBAL line that never ends
    b"\x80\x04" + _s("collections") + _s("OrderedDict") + pickle.STACK_GLOBAL + b"K\x05" +
    pickle.TUPLE1 + pickle.REDUCE + pickle.STOP,  # OrderedDict(5)
], ids=["frame", "truncated", "no_stop", "bad_opcode", "endless_line", "bad_call"])
def test_a_malformed_pickle_is_one_line(tmp_path, data):
    path = tmp_path / "bad.pth"
    path.write_bytes(data)
    with pytest.raises(pickle_scan.UnreadablePickle, match="bad.pth") as raised:
        convert.load_torch_checkpoint(path)
    assert "\n" not in str(raised.value)


def test_duplicate_members_are_all_checked(tmp_path):
    """A zip may hold two entries of one name; zipfile opens the last by name, torch's
    reader may take the first: every entry is checked."""
    import warnings
    target = tmp_path / "pwned"
    path = tmp_path / "dup.pth"
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore")  # "Duplicate name"
        archive.writestr("archive/data.pkl", _crafted("decoys_popped_last", target))
        archive.writestr("archive/data.pkl", pickle.dumps(collections.OrderedDict(), protocol=2))
    assert "os.system" in _refused(path)


def test_a_pickle_behind_a_zip_tail_is_checked_as_torch_reads_it(tmp_path):
    """torch takes a file for a zip only when it starts like one; a pickle with a
    harmless zip appended is read by torch as a pickle, so it is checked as one."""
    import io
    target = tmp_path / "pwned"
    tail = io.BytesIO()
    with zipfile.ZipFile(tail, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(collections.OrderedDict(), protocol=2))
    path = tmp_path / "polyglot.pth"
    path.write_bytes(_crafted("decoys_popped_last", target) + tail.getvalue())
    assert zipfile.is_zipfile(path)
    assert "os.system" in _refused(path)
    assert not target.exists()


def test_many_members_are_capped_in_all_and_read_one_at_a_time(tmp_path, monkeypatch):
    """Members each under the per-member bound but together over the total bound are
    refused in one line, holding no more than about one member at a time (the 1.5 MB
    zip of 24 x 63 MiB once peaked at 1.83 GB)."""
    import tracemalloc
    cap = 1 << 20
    monkeypatch.setattr(pickle_scan, "MAX_TOTAL_PICKLE_BYTES", cap, raising=False)
    path = tmp_path / "many.pth"
    member = pickle.dumps(b"\0" * (cap // 2), protocol=4)  # a valid pickle, half the cap
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(16):
            archive.writestr(f"archive/data{i}.pkl", member)
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more than") as raised:
            convert.load_torch_checkpoint(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "\n" not in str(raised.value) and "many.pth" in str(raised.value)
    assert peak < 3 * cap, f"peak {peak} bytes"
