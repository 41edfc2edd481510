"""The check of ``--out`` that ``faceslueth_jax.predict`` and ``faceslueth_jax.analyze``
make before any work (their flags and flag parsing: ``faceslueth_jax.cli``)."""

from __future__ import annotations

from faceslueth_jax import atomic_files


def out_problem(out) -> str | None:
    """The one-line error for ``--out=out``, or None where the folder can be made:
    the results go to a new folder, made whole at the end
    (``atomic_files.new_folder``); an existing one is refused, never written into."""
    if not out:
        return None
    why = atomic_files.new_folder_problem(out)
    if why is None:
        return None
    if why.startswith("already exists"):
        return (f"--out={out} {why}: give a folder that does not exist yet (the results "
                "are written into a new folder, never into an existing one; nothing was "
                "changed)")
    return f"--out={out} {why}"
