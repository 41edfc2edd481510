"""faceslueth-jax: FaceSleuth-R micro-expression recognition in JAX/Flax."""



def _version() -> str:
    """The installed distribution's version; from pyproject.toml beside the package in a
    clone that is not installed."""
    from importlib import metadata
    try:
        return metadata.version("faceslueth-jax")
    except metadata.PackageNotFoundError:
        import pathlib
        import tomllib
        pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


__version__ = _version()


def restore(directory):
    """The trained model of a model folder (``<workdir>/model``): a
    ``faceslueth_jax.inference.model_folder.TrainedModel`` (module, variables of
    every member, what model.json says)."""
    from faceslueth_jax.inference.model_folder import restore as restore_folder
    return restore_folder(directory)
