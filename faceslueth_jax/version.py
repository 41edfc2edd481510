"""The project's version: the installed distribution's, or pyproject.toml's beside the
package in a clone that is not installed."""

from __future__ import annotations


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
