"""The command lines' shared parts: the flags several commands take, defined once
(absl keeps one flag registry per process, so a command importing another's module
must not meet a second ``--config``), and flag parsing with one-line errors (exit 2).

Each command names the shared flags it takes (``own_flags``); the others are removed
from its registry before parsing, so its --help does not list them and giving one is
an error naming what to set instead (run.py: the config field, ``--config.seed=3``)."""

from __future__ import annotations

import functools
import glob
import os
import pathlib
import sys

from absl import flags
from ml_collections import config_flags

FLAGS = flags.FLAGS
CONFIG = config_flags.DEFINE_config_file(
    "config", None, "The experiment config, configs/NAME.py[:PRESET], e.g. "
    "configs/loso_synthetic.py; override any field as --config.a.b=value.", lock_config=True)
OUT = flags.DEFINE_string(
    "out", None, "Where the command writes. predict and analyze: a folder that must not "
    "exist yet, made whole at the end (an existing one is refused before any work): "
    "predictions.json and pictures (predict), intervals.json and figures (analyze). "
    "convert: the model folder (atomically; must not exist). report: the table (a file, "
    "written atomically).")
MODEL = flags.DEFINE_string("model", None, "a model folder (<workdir>/model of a run)")
CROP = flags.DEFINE_enum(
    "crop", "auto", ("auto", "detect", "whole"),
    "face crop: 'auto' as the model's training data (analyze: 'detect' for the spotting "
    "pass), 'detect' a face box found on the first (onset) frame, 'whole' the frames are "
    "face crops already")
VIDEO = flags.DEFINE_string("video", None, "a video file (.mp4, .avi, ...); analyze also "
                            "takes a folder of frames")
SEED = flags.DEFINE_integer("seed", 1000, "seed of a generated subject (the built-in data "
                            "sets use other seeds, so its face is in none of them)")
SIZE = flags.DEFINE_integer("size", 128, "a generated face's side in pixels")
FPS = flags.DEFINE_float("fps", None, "frame rate (default: the video's own; 30 for a "
                         "folder of frames or a generated video)")


SHARED = ("config", "out", "model", "crop", "video", "seed", "size", "fps")

# the name error lines give the command: set by the ``faceslueth-jax`` console script
# (``faceslueth_jax.console``) to e.g. 'faceslueth-jax predict'; None: each command's own
_PROGRAM: list | None = None

# absl's help flags (each prints help and, from absl, exits 1; here 0) and -h, taken as --help
HELP_FLAGS = ("--help", "-help", "-?", "--helpshort", "-helpshort", "--helpxml", "-helpxml")


def set_program(*words: str) -> None:
    """Name the running command as the user typed it (e.g. 'faceslueth-jax', 'run'):
    ``parse_flags``' error lines then name it so."""
    global _PROGRAM
    _PROGRAM = list(words) or None


def program() -> list | None:
    """The words ``set_program`` was given (['faceslueth-jax', 'run']), or None."""
    return list(_PROGRAM) if _PROGRAM else None


def _help_argv(argv) -> tuple[list, bool]:
    """(argv with a lone -h as --help, whether it asks for help); what follows '--' is
    left alone."""
    out, asks = [], False
    for i, arg in enumerate(argv):
        if arg == "--":
            out += argv[i:]
            break
        if i and arg == "-h":
            arg = "--help"
        asks = asks or (i > 0 and arg in HELP_FLAGS)
        out.append(arg)
    return out, asks


PACKAGED_CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "configs"


def packaged_config(value: str) -> str:
    """``--config``'s value, with 'configs/NAME.py[:PRESET]' that names no file here
    taken from the configs installed with the package (so the documented commands run
    from any folder once the package is installed); any other value as given."""
    path, colon, preset = value.partition(":")
    parts = pathlib.PurePath(path).parts
    if (len(parts) == 2 and parts[0] == "configs" and path.endswith(".py")
            and not os.path.exists(path) and (PACKAGED_CONFIGS / parts[1]).is_file()):
        return str(PACKAGED_CONFIGS / parts[1]) + colon + preset
    return value


def _packaged_configs(argv) -> list:
    """argv with each --config=configs/NAME.py as ``packaged_config`` gives it."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out + argv[i:]
        if arg.startswith(("--config=", "-config=")):
            flag, _, value = arg.partition("=")
            arg = f"{flag}={packaged_config(value)}"
        elif arg in ("--config", "-config") and i + 1 < len(argv):
            out.append(arg)
            i += 1
            arg = packaged_config(argv[i])
        out.append(arg)
        i += 1
    return out


# Where libtpu is installed (requirements-tpu.txt), jax probes for a TPU on every start
# and logs about five lines when there is none. The TPU is left alone wherever one may
# be: a TPU device file (/dev/accel*: v2-v4, /dev/vfio: v5 and later), a TPU on the PCI
# bus (Google's vendor id and the device ids jax knows, jax._src.hardware_utils), any
# TPU_* / LIBTPU* / CLOUD_TPU* variable but the two that importing jax sets on any
# machine (libtpu's path; TPU_SKIP_MDS_QUERY, which jax sets where it finds no TPU chip).
_TPU_ENV_PREFIXES = ("TPU_", "LIBTPU", "CLOUD_TPU", "JAX_FORCE_TPU_INIT")
_SET_BY_JAX = ("TPU_LIBRARY_PATH", "TPU_SKIP_MDS_QUERY")
_GOOGLE_PCI_VENDOR = "0x1ae0"
_TPU_PCI_DEVICES = ("0x0027", "0x0056", "0x005e", "0x0062", "0x0063", "0x006f", "0x0076")


def _may_have_tpu() -> bool:
    if glob.glob("/dev/accel*") or os.path.exists("/dev/vfio"):
        return True
    if any(name.startswith(_TPU_ENV_PREFIXES) and name not in _SET_BY_JAX
           for name in os.environ):
        return True
    for vendor in glob.glob("/sys/bus/pci/devices/*/vendor"):
        try:
            if pathlib.Path(vendor).read_text().strip() != _GOOGLE_PCI_VENDOR:
                continue
            device = pathlib.Path(vendor).with_name("device").read_text().strip()
        except OSError:
            return True
        if device in _TPU_PCI_DEVICES:
            return True
    return False


def _other_jax_plugins() -> bool:
    """Whether jax may find an accelerator plugin (CUDA, ROCm, ...): a jax_plugins
    module, a 'jax_plugins' entry point, or plugins named in PJRT_NAMES_AND_LIBRARY_PATHS."""
    import importlib.metadata
    import importlib.util
    import pkgutil
    if os.environ.get("PJRT_NAMES_AND_LIBRARY_PATHS"):
        return True
    try:
        spec = importlib.util.find_spec("jax_plugins")
        if spec is not None and any(pkgutil.iter_modules(spec.submodule_search_locations or [])):
            return True
        return bool(importlib.metadata.entry_points(group="jax_plugins"))
    except Exception:  # noqa: BLE001 - when in doubt, leave jax to choose
        return True


def skip_absent_tpu() -> bool:
    """Set JAX_PLATFORMS=cpu where the CPU is the only backend jax could start anyway:
    libtpu is installed but no TPU can be here (``_may_have_tpu``), no other accelerator
    plugin is installed, and neither JAX_PLATFORMS nor JAX_PLATFORM_NAME is set (set
    either, even to '', to let jax probe as usual). Where jax is imported already, its
    ``jax_platforms`` too, unless set. Saves libtpu's probe and its warnings (and its
    lock file); returns whether it set it."""
    import importlib.util
    if "JAX_PLATFORMS" in os.environ or "JAX_PLATFORM_NAME" in os.environ:
        return False
    try:
        has_libtpu = importlib.util.find_spec("libtpu") is not None
    except (ImportError, ValueError):
        has_libtpu = False
    if not has_libtpu or _may_have_tpu() or _other_jax_plugins():
        return False
    jax = sys.modules.get("jax")
    if jax is not None:  # imported before this module: jax read the variable already
        try:
            if jax.config.jax_platforms is not None:
                return False
            jax.config.update("jax_platforms", "cpu")  # no effect once a backend started
        except Exception:  # noqa: BLE001 - a jax without this option: leave it be
            return False
    os.environ["JAX_PLATFORMS"] = "cpu"
    return True


skip_absent_tpu()  # every command imports this module before jax


def _flag_name(arg: str) -> str | None:
    if not arg.startswith("-") or arg in ("-", "--"):
        return None
    return arg.lstrip("-").partition("=")[0]


def own_flags(argv: list, command: str, takes) -> tuple[list, list]:
    """(argv without the shared flags ``command`` does not take, those flags as
    (name, value or None)); the flags left out are removed from the registry."""
    foreign_names = [n for n in SHARED if n not in takes]
    rest, foreign, i = list(argv[:1]), [], 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        name = _flag_name(arg)
        if name in foreign_names:
            value = arg.partition("=")[2] if "=" in arg else None
            if value is None and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                value, i = argv[i + 1], i + 1
            foreign.append((name, value))
        else:
            rest.append(arg)
        i += 1
    for name in foreign_names:
        if name in FLAGS:
            delattr(FLAGS, name)
    return rest, foreign


def _foreign_error(command: str, foreign: list, config=None) -> str:
    name, value = foreign[0]
    shown = f"--{name}" + (f"={value}" if value is not None else "")
    if config is not None:
        paths = sorted((field for field, _ in config_leaves(config)
                        if field.rsplit(".", 1)[-1] == name),
                       key=lambda field: (field.count("."), field))
        if paths:
            field = paths[0]
            return (f"{command} does not take {shown}: set the config field instead, "
                    f"--config.{field}={value if value is not None else 'VALUE'}")
    return f"{command} does not take {shown} (another command's flag; see {command} --help)"


def fail(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)


def config_error(error: Exception) -> str:
    """One line from ml_collections' errors: a config file that fails to load, an
    override naming no field (with its 'did you mean' hint) or of the wrong type."""
    text = str(error).strip()
    if "Error whilst parsing config file" in text:  # the config's get_config raised
        return f"{text.partition(': Error whilst')[0]}: {text.splitlines()[-1]}"
    if "Failed loading config file" in text or isinstance(error, OSError):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        path = next((line for line in lines if line.endswith(".py") or ".py:" in line), "?")
        return f"cannot load --config={path}: {lines[-1] if lines else text}"
    if isinstance(error, (AttributeError, KeyError)):
        text = text.strip("'\"").replace("\\n", "\n").replace("\\'", "'")
        field, _, hint = text.partition("\n")
        return f"a --config.* override names no config field {field.strip(chr(39))}" + (
            f"; {hint}" if hint else "")
    return text


def config_leaves(config, prefix: str = ""):
    """(dotted name, value) of every leaf field of ``config`` (nested dicts walked)."""
    for key, value in config.items():
        if hasattr(value, "items"):
            yield from config_leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def config_fields(config, prefix: str = "--config.") -> list[str]:
    """One line per leaf field of ``config``: '--config.a.b=VALUE  (type)'."""
    return [f"  {prefix}{field}={value!r}  ({type(value).__name__})"
            for field, value in config_leaves(config)]


def _full_help() -> None:
    """absl's --helpfull, then every field of the --config given (each can be set)."""
    print(FLAGS.get_help())
    config = FLAGS["config"] if "config" in FLAGS else None
    if config is not None and config.present and config.value is not None:
        print(f"\nfields of {config.config_filename} (override as --config.FIELD=VALUE):")
        print("\n".join(config_fields(config.value)))
    else:
        print("\ngive --config=configs/NAME.py to list its fields as well")
    sys.exit(0)


def parser(command: str, takes=("config",), needs_config: bool = True):
    """A ``flags_parser`` for ``app.run``: ``command`` takes the shared flags ``takes``
    (``own_flags``), and --config is required when ``needs_config``."""
    return functools.partial(parse_flags, command=command, takes=takes,
                             needs_config=needs_config)


def parse_flags(argv, command: str = "run.py", takes=("config",), needs_config: bool = True):
    """absl's flag parsing, with each failure as one line on stderr and exit 2.
    ``--helpfull`` also lists the fields of the config given with it; --help, -h,
    --helpshort, --helpfull and --helpxml exit 0 after the help."""
    command = " ".join(_PROGRAM) if _PROGRAM else command
    argv, asks_for_help = _help_argv(list(argv))
    argv = _packaged_configs(argv)
    argv, foreign = own_flags(argv, command, takes)
    full_help = "--helpfull" in argv
    argv = [a for a in argv if a != "--helpfull"]
    try:
        return _parse(argv, command, takes, needs_config, foreign, full_help)
    except SystemExit as e:
        if asks_for_help and e.code == 1:  # absl's help flags exit 1 after the help
            sys.exit(0)
        raise


def _parse(argv, command, takes, needs_config, foreign, full_help):
    try:
        if full_help:  # before the required flags' checks, which help must not meet
            try:
                FLAGS(argv)
            except flags.IllegalFlagValueError:
                pass
            _full_help()
        rest = FLAGS(argv)
        config = FLAGS.config if "config" in takes else None
        if needs_config and config is None:
            fail("--config is required, e.g. --config=configs/loso_synthetic.py")
        if config is not None:
            config.keys()  # a config file that failed to load raises here
        if foreign:
            fail(_foreign_error(command, foreign, config))
        return rest
    except flags.Error as e:
        fail(config_error(e))
    except Exception as e:  # noqa: BLE001 - ml_collections raises many kinds
        fail(config_error(e))


def override_fields(argv) -> list[str]:
    """The config fields a command line overrides: a.b for each --config.a.b=VALUE
    (or --config.a.b VALUE), in order, each once."""
    fields = []
    for arg in argv:
        if arg.startswith("--config."):
            field = arg[len("--config."):].partition("=")[0]
            if field not in fields:
                fields.append(field)
    return fields
