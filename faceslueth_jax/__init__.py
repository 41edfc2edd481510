"""faceslueth-jax: FaceSleuth-R micro-expression recognition in JAX/Flax."""

from faceslueth_jax.version import __version__  # noqa: F401 (the package's version)


def restore(directory):
    """The trained model of a model folder (``<workdir>/model``): a
    ``faceslueth_jax.inference.model_folder.TrainedModel`` (module, variables of
    every member, what model.json says)."""
    from faceslueth_jax.inference.model_folder import restore as restore_folder
    return restore_folder(directory)
