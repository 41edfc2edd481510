"""``faceslueth-jax``: the project's commands as one installed program.

  faceslueth-jax run --config=configs/loso_synthetic.py [--workdir=DIR] [--config.a.b=VALUE]
  faceslueth-jax predict --model=RUN/model --clip=CLIP [...]
  faceslueth-jax analyze --video=VIDEO [--model=RUN/model] [...]
  faceslueth-jax plan --config=CONFIG [--target=...]
  faceslueth-jax report RUNS_FOLDER [--out=table.md]
  faceslueth-jax convert --from_torch=CHECKPOINT.pth --out=DIR --config=CONFIG
  faceslueth-jax build NAME --manual_dir=DIR [...]
  faceslueth-jax COMMAND --help

Each command takes the same flags, prints the same and exits with the same status as
the module it runs (its ``__main__``), e.g. ``faceslueth-jax run`` as ``python run.py``
and ``faceslueth-jax build`` as ``python -m tfds_builders build``. ``--config`` takes a
config file's path; 'configs/NAME.py' that is no file in the current folder is the
config of that name installed with the package.
"""

from __future__ import annotations

import runpy
import sys

# the commands: (the module run as __main__, arguments put before the user's, summary)
COMMANDS = {
    "run": ("faceslueth_jax.pipeline.command", (),
            "train and evaluate a config under its protocol (python run.py)"),
    "predict": ("faceslueth_jax.predict", (),
                "classify clips with a trained model folder"),
    "analyze": ("faceslueth_jax.analyze", (),
                "spot and recognise the expressions of a long video"),
    "plan": ("faceslueth_jax.plan", (),
             "compile a config's sweep for a target and estimate its time and memory"),
    "report": ("faceslueth_jax.evaluation.report", (),
               "table the finished runs under folders"),
    "convert": ("faceslueth_jax.reference.convert", (),
                "convert a PyTorch reference checkpoint into a model folder"),
    "build": ("tfds_builders", ("build",),
              "convert a micro-expression database into records (python -m tfds_builders build)"),
}
PROGRAM = "faceslueth-jax"
USAGE_ERROR = 2


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROGRAM} COMMAND [FLAGS]   ({PROGRAM} COMMAND --help: its flags)", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, _, summary) in COMMANDS.items()]
    lines += ["", f"  {PROGRAM} run --config=configs/loso_synthetic.py   # the built-in "
              "synthetic data, LOSO", f"  {PROGRAM} --version"]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(usage(), file=sys.stderr)
        return USAGE_ERROR
    name, rest = argv[0], argv[1:]
    if name in ("-h", "--help", "-help", "--helpshort", "--helpfull", "help") and not rest:
        print(usage())
        return 0
    if name == "help":  # faceslueth-jax help COMMAND: that command's --help
        name, rest = rest[0], ["--help"]
    if name == "--version":
        from faceslueth_jax.version import __version__
        print(f"{PROGRAM} {__version__}")
        return 0
    if name not in COMMANDS:
        print(f"error: {PROGRAM}: no command {name!r}; the commands are "
              f"{', '.join(COMMANDS)} ({PROGRAM} --help)", file=sys.stderr)
        return USAGE_ERROR
    module, leading, _ = COMMANDS[name]
    from faceslueth_jax import cli  # before jax: cli.skip_absent_tpu
    cli.set_program(PROGRAM, name)
    # the module runs as its own __main__ (its docstring is the usage, its flags are the
    # main module's in --help); runpy sets sys.argv[0] to its file
    sys.argv = [f"{PROGRAM} {name}", *leading, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
