"""``python -m faceslueth_jax.predict``: the same command as
``python -m faceslueth_jax.inference.predict`` (classify clips with a model folder)."""

import sys

from absl import app

from faceslueth_jax.inference.predict import main

if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
