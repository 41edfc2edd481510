"""Whether a PyTorch checkpoint's pickles may be loaded, decided by unpickling them
with nothing but an allow-list of globals.

A ``.pth`` file is a zip archive holding ``<name>/data.pkl`` (torch >= 1.6) or bare
pickles (older torch). Unpickling calls every global the pickle names (``GLOBAL``,
``STACK_GLOBAL``, ``INST``, ``EXT*``), which is how a crafted file runs code. Reading
the opcodes to guess those names loses to every opcode a scanner models loosely
(decoys popped off the stack, memo games), so nothing here reads opcodes: ``check(path)``
runs each pickle through ``pickle.Unpickler`` with a ``find_class`` that resolves only
the names in ``SAFE`` (what ``torch.save(net.state_dict())`` writes, as torch's own
``weights_only`` loader allows) and raises ``UnsafeGlobal`` on any other, before it is
imported. Nothing real is resolved even then: each allowed name resolves to a harmless
stand-in (``collections.OrderedDict`` itself; a callable returning an inert placeholder
for torch's rebuild functions, storages, dtypes...) and persistent ids (the tensors'
storages) to placeholders, so the check needs no torch and calls nothing of it. A file
that passes is then read by ``torch.load(weights_only=True)``.

What the check reads is bounded: every pickle of the file is streamed into the unpickler
one after another (never a member read ahead), each no further than
``MAX_PICKLE_BYTES`` and all together no further than ``MAX_TOTAL_PICKLE_BYTES``,
whatever sizes the zip's headers claim (a zip bomb). A file that is no pickle, a
truncated or malformed one, or one past a bound raises ``UnreadablePickle``.

Left to torch's loader: ``EXT*`` codes resolve through ``find_class`` unless this process
already unpickled the same code (``copyreg``'s cache; nothing here registers any).
"""

from __future__ import annotations

import collections
import pickle
import zipfile

# Globals a torch.save(net.state_dict()) file names: its OrderedDict, the tensor and
# parameter rebuild functions, the storage types (in each tensor's persistent id), and
# what torch's weights_only loader also admits in a state_dict (dtypes, Size, device,
# layouts, bytes under protocol 2). Names match exactly: no attribute chain
# ('_rebuild_tensor_v2.__globals__') and no prefix or suffix rule.
_STORAGES = {f"{t}Storage" for t in (
    "Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
    "ComplexFloat", "ComplexDouble", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4")}
_DTYPES = {
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex32",
    "chalf", "complex64", "cfloat", "complex128", "cdouble", "uint8", "int8", "int16", "short",
    "int32", "int", "int64", "long", "bool", "uint16", "uint32", "uint64", "float8_e4m3fn",
    "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "qint8", "quint8", "qint32",
    "quint4x2", "quint2x4"}
SAFE: dict[str, frozenset[str]] = {
    "collections": frozenset({"OrderedDict"}),
    "torch._utils": frozenset({
        "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
        "_rebuild_parameter_with_state", "_rebuild_meta_tensor_no_storage"}),
    "torch._tensor": frozenset({"_rebuild_from_type_v2"}),
    "torch": frozenset({"Size", "Tensor", "device", *_STORAGES, *_DTYPES}),
    "torch.nn.parameter": frozenset({"Parameter"}),
    "torch.serialization": frozenset({"_get_layout"}),
    "_codecs": frozenset({"encode"}),
    "builtins": frozenset({"set", "bytearray", "complex"}),
}

# the most bytes one pickle of a checkpoint (a zip's .pkl member) may unpack to, and all
# of its pickles together: a state_dict's pickle names its tensors (their data are other
# members), a few MB even for 100 M parameters, so more is a crafted archive (a zip bomb)
MAX_PICKLE_BYTES = 64 << 20
MAX_TOTAL_PICKLE_BYTES = 64 << 20

# torch < 1.6 wrote this magic number, the protocol version and the system info as
# pickles ahead of the object's own, then the storage keys, then raw storage bytes
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PICKLES_AFTER_MAGIC = 4
_ZIP_MAGIC = b"PK\x03\x04"  # how torch tells a zip checkpoint from a legacy one
_CHUNK = 1 << 20


class UnreadablePickle(ValueError):
    """The file is neither a torch zip checkpoint nor a pickle, is malformed, or unpacks
    past a bound."""


class UnsafeGlobal(ValueError):
    """The pickle names a global outside ``SAFE``; it was not resolved."""

    def __init__(self, path, module, name):
        self.module, self.name = module, name
        self.qualname = f"{module}.{name}"
        self.shown = _shown(self.qualname)
        super().__init__(f"{path}: loading it would import {self.shown}, which is not on "
                         "the allow-list of a state_dict's globals")


def _shown(text, limit: int = 120) -> str:
    """``text`` safe to print on one line: escaped, and cut at ``limit`` characters."""
    text = str(text)
    cut = text[:limit]
    shown = cut if cut.isprintable() and cut.isascii() else ascii(cut)[1:-1]
    return shown + ("..." if len(text) > limit else "")


def is_safe(module: str, name: str) -> bool:
    return isinstance(module, str) and isinstance(name, str) and name in SAFE.get(module, ())


class _Placeholder:
    """What an allowed global returns under the check: inert, not callable."""
    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what

    def __setstate__(self, state):  # BUILD: nothing to set
        pass


class _StandIn:
    """An allowed global under the check: calling it returns a placeholder (no torch
    code runs, nothing is computed from the pickle's arguments). Not a type, so
    NEWOBJ/NEWOBJ_EX refuse it."""
    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what

    def __call__(self, *args, **kwargs):
        return _Placeholder(self.what)

    def __setstate__(self, state):
        pass


def _stand_in(module: str, name: str):
    if (module, name) == ("collections", "OrderedDict"):
        return collections.OrderedDict  # harmless, and what SETITEMS / BUILD need
    return _StandIn(f"{module}.{name}")


class _AllowListUnpickler(pickle.Unpickler):
    """Resolves only ``SAFE`` globals, each to a stand-in; anything else raises
    ``UnsafeGlobal`` before it is imported. ``seen`` collects every (module, name)
    asked for, in order, once each."""

    def __init__(self, file, path, seen: dict):
        super().__init__(file)
        self._path, self._seen = path, seen

    def find_class(self, module, name):
        self._seen.setdefault((module, name))
        if not is_safe(module, name):
            raise UnsafeGlobal(self._path, module, name)
        return _stand_in(module, name)

    def persistent_load(self, pid):
        return _Placeholder("persistent id")


class _Budget:
    """Bytes read so far from one file's pickles, against ``MAX_TOTAL_PICKLE_BYTES``."""

    def __init__(self, path):
        self.path, self.total, self.used = path, MAX_TOTAL_PICKLE_BYTES, 0


class _Bounded:
    """The file-like object the unpickler reads: ``raw``'s bytes, raising
    UnreadablePickle as soon as this pickle passes ``MAX_PICKLE_BYTES`` or the file's
    pickles together pass the budget (reading at most one byte beyond either)."""

    def __init__(self, raw, budget: _Budget, what: str):
        self.raw, self.budget, self.what = raw, budget, what
        self.limit, self.used = MAX_PICKLE_BYTES, 0

    def _room(self) -> int:
        return max(0, min(self.limit - self.used, self.budget.total - self.budget.used))

    def _took(self, n: int) -> None:
        self.used += n
        self.budget.used += n
        if self.used > self.limit:
            raise UnreadablePickle(
                f"{self.budget.path}: {self.what} unpacks to more than {self.limit} bytes, far "
                "more than a state_dict's pickle (a crafted archive?)")
        if self.budget.used > self.budget.total:
            raise UnreadablePickle(
                f"{self.budget.path}: its pickles unpack to more than {self.budget.total} bytes "
                "in all, far more than a state_dict's (a crafted archive?)")

    def read(self, n=-1) -> bytes:
        room = self._room() + 1
        data = self.raw.read(room if n is None or n < 0 else min(n, room))
        self._took(len(data))
        return data

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        want, filled = min(len(view), self._room() + 1), 0
        while filled < want:  # in chunks: the source holds no more than one at a time
            got = self.raw.readinto(view[filled:min(want, filled + _CHUNK)])
            if not got:
                break
            filled += got
        self._took(filled)
        return filled

    def readline(self, size=-1) -> bytes:
        room = self._room() + 1
        line = self.raw.readline(room if size is None or size < 0 else min(size, room))
        self._took(len(line))
        return line

    def peek(self, n=0) -> bytes:  # counted once read
        return self.raw.peek(n)[:self._room() + 1]


def _load_one(reader: _Bounded, path, seen: dict):
    try:
        return _AllowListUnpickler(reader, path, seen).load()
    except (UnsafeGlobal, UnreadablePickle):
        raise
    except Exception as e:  # noqa: BLE001 - whatever a malformed pickle raises
        raise UnreadablePickle(f"{path}: {reader.what} is not a readable pickle "
                               f"({type(e).__name__}: {_shown(e)})") from None


def _check_file(path, seen: dict) -> None:
    budget = _Budget(path)
    with open(path, "rb") as f:
        if f.peek(4)[:4] == _ZIP_MAGIC:
            _check_zip(f, path, budget, seen)
            return
        reader = _Bounded(f, budget, "its pickle")
        first = _load_one(reader, path, seen)
        if type(first) is int and first == _LEGACY_MAGIC:  # then its own pickles
            for _ in range(_LEGACY_PICKLES_AFTER_MAGIC):
                reader = _Bounded(f, budget, "its pickle")
                _load_one(reader, path, seen)


def _check_zip(f, path, budget: _Budget, seen: dict) -> None:
    try:
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise UnreadablePickle(f"{path}: not a readable zip archive ({_shown(e)})") from None
    with archive:
        # every entry, duplicate names too (zipfile opens the last of a name, torch's
        # reader may take the first), one at a time
        members = [info for info in archive.infolist() if info.filename.endswith(".pkl")]
        if not members:
            raise UnreadablePickle(f"{path}: a zip archive without a .pkl member, not a "
                                   "torch checkpoint")
        for info in members:
            what = f"member {_shown(info.filename)}"
            try:
                raw = archive.open(info)
            except Exception as e:  # noqa: BLE001 - encrypted, unknown compression...
                raise UnreadablePickle(f"{path}: {what} cannot be read ({_shown(e)})") from None
            with raw:
                _load_one(_Bounded(raw, budget, what), path, seen)


def check(path) -> list[tuple[str, str]]:
    """The (module, name) pairs the file's pickles name, all on the allow-list, once
    each in order; ``UnsafeGlobal`` at the first one that is not (unresolved),
    ``UnreadablePickle`` when the file is not a readable checkpoint pickle or unpacks
    past ``MAX_PICKLE_BYTES`` / ``MAX_TOTAL_PICKLE_BYTES``."""
    seen: dict = {}
    _check_file(path, seen)
    return list(seen)


def globals_named(path) -> list[tuple[str, str]]:
    """The (module, name) pairs the file's pickles name up to and including the first
    one off the allow-list (reading stops there), once each in order."""
    seen: dict = {}
    try:
        _check_file(path, seen)
    except UnsafeGlobal:
        pass
    return list(seen)


def unsafe_globals(path) -> list[str]:
    """['module.name'] of the first global off the allow-list, [] for a plain state_dict."""
    try:
        check(path)
    except UnsafeGlobal as e:
        return [e.qualname]
    return []
