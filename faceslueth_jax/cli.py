"""The command lines' shared parts: the flags several commands take, defined once
(absl keeps one flag registry per process, so a command importing another's module
must not meet a second ``--config``), and flag parsing with one-line errors (exit 2).

Each command names the shared flags it takes (``own_flags``); the others are removed
from its registry before parsing, so its --help does not list them and giving one is
an error naming what to set instead (run.py: the config field, ``--config.seed=3``)."""

from __future__ import annotations

import functools
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
        paths = sorted((p for p in config_fields(config, "") if
                        p.strip().partition("=")[0].rsplit(".", 1)[-1] == name),
                       key=lambda p: (p.count("."), p))
        if paths:
            field = paths[0].strip().partition("=")[0]
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


def config_fields(config, prefix: str = "--config.") -> list[str]:
    """One line per leaf field of ``config``: '--config.a.b=VALUE  (type)'."""
    lines = []
    for key, value in config.items():
        if hasattr(value, "items"):
            lines += config_fields(value, f"{prefix}{key}.")
        else:
            lines.append(f"  {prefix}{key}={value!r}  ({type(value).__name__})")
    return lines


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
    ``--helpfull`` also lists the fields of the config given with it."""
    argv, foreign = own_flags(argv, command, takes)
    full_help = "--helpfull" in argv
    argv = [a for a in argv if a != "--helpfull"]
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
