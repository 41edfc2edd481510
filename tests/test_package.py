"""The package as pip installs it: its declared dependencies are exactly what its code
imports (an import with no declared distribution fails for a user who ran
``pip install .`` without requirements.txt), optional ones are extras imported only
where they are used, the pins of requirements.txt satisfy them, and the console script
names a function that exists."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import re
import sys

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

# the code the wheel holds: its packages and, for a clone, run.py
SOURCES = ("faceslueth_jax", "tfds_builders", "configs", "run.py")
FIRST_PARTY = {"faceslueth_jax", "tfds_builders", "configs", "tests"}
# modules whose distribution cannot be looked up where it is not installed (optional
# ones, absent here); a namespace package is named with its sub-module
NOT_INSTALLED_HERE = {"dlib": "dlib-bin", "face_recognition_models": "face-recognition-models",
                      "torch": "torch", "libtpu": "libtpu", "skimage": "scikit-image",
                      "jax_plugins.xla_cuda12": "jax-cuda12-plugin"}
NAMESPACES = {"jax_plugins"}
# declared but imported by no file here, each for a reason
NEEDED_UNIMPORTED = {
    "array-record": "the records are array_record files, which tensorflow-datasets reads "
                    "and writes through it but requires on Linux only",
    "importlib-resources": "tensorflow-datasets imports it for package builders but does "
                           "not declare it (only for Python < 3.9)",
}
TEST_EXTRAS = {"test"}  # test tools: not the code's dependencies


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _guarded(node, parents) -> bool:
    """Whether an import runs only on use: inside a function, or in a try whose except
    catches ImportError (the code then says what to install)."""
    for parent in parents:
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
        if isinstance(parent, ast.Try) and any(
                h.type is None or "ImportError" in ast.unparse(h.type) or
                "ModuleNotFoundError" in ast.unparse(h.type) for h in parent.handlers):
            return True
    return False


def _walk(node, parents=()):
    yield node, parents
    for child in ast.iter_child_nodes(node):
        yield from _walk(child, parents + (node,))


def third_party_imports() -> dict[str, dict[str, bool]]:
    """{module: {file:line: guarded}} for every import of a module that is neither
    the standard library's nor this project's."""
    files = []
    for source in SOURCES:
        path = REPO / source
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    found = {}
    for path in files:
        for node, parents in _walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] in sys.stdlib_module_names or parts[0] in FIRST_PARTY:
                    continue
                module = ".".join(parts[:2]) if parts[0] in NAMESPACES else parts[0]
                if module in NAMESPACES:  # 'from jax_plugins import x' names x too
                    continue
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                found.setdefault(module, {})[where] = _guarded(node, parents)
    return found


def distribution_of(module: str, declared: set[str]) -> str:
    """The distribution that provides ``module``: the declared one among those that do
    (``packages_distributions``), or the one NOT_INSTALLED_HERE names."""
    top = module.split(".")[0]
    candidates = [_name(d) for d in importlib.metadata.packages_distributions().get(top, [])]
    if module in NOT_INSTALLED_HERE:
        candidates.append(NOT_INSTALLED_HERE[module])
    assert candidates, (f"no installed distribution provides {module!r}: install it, or name "
                        "its distribution in NOT_INSTALLED_HERE")
    return next((c for c in candidates if c in declared), candidates[0])


def _provides(requirement: Requirement) -> set[str]:
    """The distributions a requirement brings: its own, and those of its extras as its
    installed metadata names them (jax[tpu] -> libtpu)."""
    names = {_name(requirement.name)}
    for extra in requirement.extras:
        try:
            requires = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in requires:
            r = Requirement(line)
            if r.marker is not None and r.marker.evaluate({"extra": extra}) and (
                    not r.marker.evaluate({"extra": ""})):
                names.add(_name(r.name))
    return names


def _brings(requirement: Requirement) -> set[str]:
    """What a requirement is declared for: its extras' distributions (jax[tpu]: libtpu,
    jax itself is a dependency already), or its own distribution."""
    if requirement.extras:
        return _provides(requirement) - {_name(requirement.name)}
    return {_name(requirement.name)}


def declared() -> tuple[dict[str, Requirement], dict[str, Requirement]]:
    """({distribution: requirement} of the runtime dependencies, of the extras but
    the test tools'), each requirement under every distribution it brings."""
    project = _pyproject()
    runtime = {_name(Requirement(r).name): Requirement(r) for r in project["dependencies"]}
    optional = {}
    for extra, lines in project.get("optional-dependencies", {}).items():
        if extra in TEST_EXTRAS:
            continue
        for line in lines:
            requirement = Requirement(line)
            for name in _provides(requirement):
                if name not in runtime:
                    optional[name] = requirement
    return runtime, optional


def test_the_declared_dependencies_are_what_the_code_imports():
    runtime, optional = declared()
    imported = set()
    undeclared = {}
    for module, places in third_party_imports().items():
        distribution = distribution_of(module, set(runtime) | set(optional))
        imported.add(distribution)
        if distribution not in runtime and distribution not in optional:
            undeclared[distribution] = sorted(places)
    assert not undeclared, f"imported, not in pyproject.toml's dependencies: {undeclared}"
    project = _pyproject()
    requirements = list(project["dependencies"]) + [
        line for extra, lines in project.get("optional-dependencies", {}).items()
        if extra not in TEST_EXTRAS for line in lines]
    unused = [line for line in requirements if not (_brings(Requirement(line)) & imported)
              and _name(Requirement(line).name) not in NEEDED_UNIMPORTED]
    assert not unused, (f"declared in pyproject.toml, imported nowhere: {unused} (remove, "
                        "or give the reason in NEEDED_UNIMPORTED)")
    for name in NEEDED_UNIMPORTED:
        assert name in runtime, f"{name} is in NEEDED_UNIMPORTED but not a dependency"


def test_an_extra_is_imported_only_where_it_is_used():
    """A user without an extra can still import every module: an optional dependency
    is imported inside the function that needs it, or under try/except ImportError."""
    runtime, optional = declared()
    eager = {}
    for module, places in third_party_imports().items():
        distribution = distribution_of(module, set(runtime) | set(optional))
        if distribution in optional and distribution not in runtime:
            eager.update({where: module for where, guarded in places.items() if not guarded})
    assert not eager, f"optional dependencies imported at a module's top: {eager}"


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            (version,) = [s.version for s in requirement.specifier if s.operator == "=="]
            pins[_name(requirement.name)] = version
    return pins


def test_the_pins_of_requirements_satisfy_pyproject():
    runtime, optional = declared()
    pins = _pins(REPO / "requirements.txt")
    missing = sorted(set(runtime) - set(pins))
    assert not missing, f"runtime dependencies requirements.txt does not pin: {missing}"
    for name, requirement in {**optional, **runtime}.items():
        if name in pins and _name(requirement.name) == name:
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"requirements.txt pins {name}=={pins[name]}, outside pyproject's "
                f"{requirement}")
    tpu = _pins(REPO / "requirements-tpu.txt")
    if "libtpu" in optional and importlib.util.find_spec("jax") is not None:
        jax_wants = [Requirement(r) for r in importlib.metadata.requires("jax") or []
                     if Requirement(r).name == "libtpu"]
        if pins.get("jax") == importlib.metadata.version("jax"):
            assert all(r.specifier.contains(tpu["libtpu"]) for r in jax_wants), (
                f"requirements-tpu.txt's libtpu=={tpu['libtpu']} is not what jax[tpu] "
                f"{pins['jax']} installs: {jax_wants}")


def test_the_console_script_and_its_commands_exist():
    scripts = _pyproject()["scripts"]
    assert set(scripts) == {"faceslueth-jax"}
    module, _, function = scripts["faceslueth-jax"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    from faceslueth_jax import console
    assert set(console.COMMANDS) == {"run", "predict", "analyze", "plan", "report",
                                     "convert", "build"}
    for name, (target, _, _) in console.COMMANDS.items():
        spec = importlib.util.find_spec(target)
        assert spec is not None, f"faceslueth-jax {name}: no module {target}"
        source = (spec.origin if not spec.submodule_search_locations else
                  importlib.util.find_spec(f"{target}.__main__").origin)
        assert 'if __name__ == "__main__":' in open(source).read(), source


def test_the_wheel_holds_the_configs_a_command_names():
    """'configs/NAME.py' that is no file in the current folder is the installed one."""
    from faceslueth_jax import cli
    assert cli.PACKAGED_CONFIGS == REPO / "configs"
    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    assert "configs*" in include
    elsewhere = cli.packaged_config("configs/loso_synthetic.py:paper")
    assert elsewhere in ("configs/loso_synthetic.py:paper",  # run from the clone
                         f"{REPO / 'configs' / 'loso_synthetic.py'}:paper")
    assert cli.packaged_config("configs/no_such_config.py") == "configs/no_such_config.py"
    assert cli.packaged_config("/x/configs/y.py") == "/x/configs/y.py"
