"""What a PyTorch checkpoint would import when unpickled, read without unpickling it.

A ``.pth`` file is a zip archive holding ``<name>/data.pkl`` (torch >= 1.6) or a
bare pickle (older torch). Unpickling calls every global the pickle names
(``GLOBAL``, ``STACK_GLOBAL``, ``INST``), which is how a crafted file runs code.
``globals_named(path)`` lists those (module, name) pairs by walking the pickle's
opcodes with ``pickletools`` (nothing is executed); ``unsafe_globals(path)``
keeps the ones a state_dict of tensors never needs. Reading works without torch,
so a crafted file is refused before torch is even imported.
"""

from __future__ import annotations

import io
import pickletools
import zipfile

# Globals a torch.save(net.state_dict()) file names: its OrderedDict, the tensor
# rebuild functions and the storage types (torch.FloatStorage, ...).
SAFE = {
    "collections": {"OrderedDict"},
    "torch._utils": {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter",
                     "_rebuild_parameter_with_state"},
    "torch._tensor": {"_rebuild_from_type_v2"},
    "torch": {"Size"},
}
_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING",
            "BINSTRING", "STRING"}
_MEMO_PUT = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GET = {"GET", "BINGET", "LONG_BINGET"}


class UnreadablePickle(ValueError):
    """The file is neither a torch zip checkpoint nor a pickle."""


# the most bytes one .pkl member of a zip checkpoint may unpack to: a state_dict's
# pickle names its tensors (their data are other members), a few MB even for 100 M
# parameters, so more is a crafted archive (a zip bomb)
MAX_PICKLE_BYTES = 64 << 20


def _pickles(path, max_bytes: int = MAX_PICKLE_BYTES) -> list[bytes]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".pkl")]
            if not names:
                raise UnreadablePickle(f"{path}: a zip archive without a .pkl member, not a "
                                       "torch checkpoint")
            return [_member(archive, n, path, max_bytes) for n in names]
    with open(path, "rb") as f:
        return [f.read()]


def _member(archive: zipfile.ZipFile, name: str, path, max_bytes: int) -> bytes:
    """A member's bytes, read no further than ``max_bytes`` + 1 whatever its header
    claims; UnreadablePickle when it holds more."""
    with archive.open(name) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnreadablePickle(f"{path}: member {name} unpacks to more than {max_bytes} bytes, "
                               "far more than a state_dict's pickle (a crafted archive?)")
    return data


def _globals_of(data: bytes, path) -> list[tuple[str, str]]:
    found, memo, stack = [], {}, []  # stack: the strings pushed, most recent last
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            name = op.name
            if name in _STRINGS:
                stack.append(arg.decode() if isinstance(arg, bytes) else str(arg))
            elif name in _MEMO_PUT and stack:
                memo[arg] = stack[-1]
            elif name == "MEMOIZE" and stack:
                memo[len(memo)] = stack[-1]
            elif name in _MEMO_GET:
                stack.append(memo.get(arg, "?"))
            elif name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                found.append((module, attr))
            elif name == "STACK_GLOBAL":
                found.append((stack[-2], stack[-1]) if len(stack) >= 2 else ("?", "?"))
            elif name in ("EXT1", "EXT2", "EXT4"):
                found.append(("copyreg extension", str(arg)))
            if name == "STOP":
                break
    except (ValueError, EOFError) as e:
        raise UnreadablePickle(f"{path}: not a readable pickle ({e})") from None
    return found


def globals_named(path) -> list[tuple[str, str]]:
    """Every (module, name) the file's pickles would import, in order."""
    return [g for data in _pickles(path) for g in _globals_of(data, path)]


def is_safe(module: str, name: str) -> bool:
    if module == "torch" and name.endswith("Storage"):
        return True
    return name in SAFE.get(module, ())


def unsafe_globals(path) -> list[str]:
    """'module.name' of every global outside ``SAFE`` (empty for a plain state_dict)."""
    return sorted({f"{m}.{n}" for m, n in globals_named(path) if not is_safe(m, n)})
