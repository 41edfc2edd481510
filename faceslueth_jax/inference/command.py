"""What ``faceslueth_jax.predict`` and ``faceslueth_jax.analyze`` need before any work:
their flags' defaults, their exit status for bad input, and the check of ``--out``
(their flags and flag parsing: ``faceslueth_jax.cli``). Nothing here imports jax, so
``--help`` and a refused flag answer at once."""

from __future__ import annotations

from faceslueth_jax import atomic_files

BAD_INPUT = 2  # exit status: input that stops everything, or a bad flag value
ON_ERROR = ("skip", "raise")  # what predict does with a clip it cannot use
# frames a clip may have (every one is decoded into memory): 5 s at 200 fps, longer than
# any micro-expression clip of the databases; a longer video (a whole recording) needs
# --onset/--apex and --max_frames
MAX_FRAMES = 1000
# analyze's baseline threshold z for a new video, in noise units above the video's floor:
# the value the folds of the synthetic LOSO study chose on their training subjects
# (docs/spotting.md); a database's run may pick another
DEFAULT_Z = 5.0


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
