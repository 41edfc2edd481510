"""Record a data set's description (``faceslueth_jax.data.descriptions``):

  python -m faceslueth_jax.data.descriptions --config=CONFIG --config.data.manual_dir=DIR
"""

from __future__ import annotations

import json

from absl import app, flags
from faceslueth_jax import atomic_files, cli
from faceslueth_jax.data import records, sources
from faceslueth_jax.data.descriptions import path_of, record

flags.declare_key_flag("config")


def main(argv) -> None:
    del argv
    config = cli.CONFIG.value
    data = records.read_builders(sources.prepare_all(config.data))
    name = "+".join(sources.database_names(config.data))
    atomic_files.write_text(path_of(name), json.dumps(record(data, name)) + "\n")
    print(f"described {len(data)} samples of {name} in {path_of(name)}")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parser("python -m faceslueth_jax.data.descriptions"))
