"""The layers import one way: preprocess -> tfds_builders -> data, models -> train ->
evaluation -> inference -> pipeline -> the commands. No module imports a layer above
its own (imports inside functions count too), so models import neither the builders
nor inference."""

from __future__ import annotations

import ast

from tests.conftest import REPO

# a package's layer; faceslueth_jax's own small modules sit at the bottom
LAYER = {"preprocess": 0, "atomic_files": 0, "batch_context": 0, "stopwatch": 0,
         "distributed": 0, "cli": 0, "version": 0, "model_files": 0, "config_text": 0,
         "tfds_builders": 1, "data": 2, "models": 2, "train": 3, "evaluation": 4, "spotting": 5,
         "inference": 6, "reference": 6, "pipeline": 7, "plan": 8, "predict": 8, "analyze": 8,
         "console": 9, "__main__": 9, "__init__": 8}


def _part(module: str) -> str | None:
    """The layer name of an imported module of this project, or None."""
    parts = module.split(".")
    if parts[0] == "tfds_builders":
        return "tfds_builders"
    if parts[0] == "faceslueth_jax":
        return parts[1] if len(parts) > 1 else "__init__"
    return None


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node.lineno, [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "faceslueth_jax":  # from faceslueth_jax import data, ...
                yield node.lineno, [f"faceslueth_jax.{a.name}" for a in node.names]
            else:
                yield node.lineno, [node.module]


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for folder in ("faceslueth_jax", "tfds_builders"):
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO)
            own = "tfds_builders" if folder == "tfds_builders" else (
                relative.parts[1].removesuffix(".py"))
            for line, modules in _imports(ast.parse(path.read_text())):
                for module in modules:
                    part = _part(module)
                    if part and part != own and LAYER.get(part, 0) > LAYER.get(own, 0):
                        upward.append(f"{relative}:{line} imports {module}")
    assert not upward, "imports up the layers:\n" + "\n".join(upward)


def test_models_use_the_layers_that_see_the_batch():
    """flax's own BatchNorm and Dropout do not read ``batch_context``: they would count a
    fold's fillers in the moments and draw by device position (docs/architecture.md)."""
    found = [f"{path.relative_to(REPO)}:{n}" for path in sorted((REPO / "faceslueth_jax/models").glob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if "nn.BatchNorm" in line or "nn.Dropout" in line]
    assert not found, "flax layers that do not see the batch's mask: " + ", ".join(found)
