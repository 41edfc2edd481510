"""``python -m faceslueth_jax.report``: the same command as
``python -m faceslueth_jax.evaluation.report`` (results tables, ``--compare``)."""

from absl import app

from faceslueth_jax.evaluation.report import main

if __name__ == "__main__":
    app.run(main)
