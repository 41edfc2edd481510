"""``python -m faceslueth_jax COMMAND ...``: the ``faceslueth-jax`` program
(``faceslueth_jax.console``) where its script is not on the PATH."""

import sys

from faceslueth_jax.console import main

if __name__ == "__main__":
    sys.exit(main())
