"""The test lock (``requirements/test-lock.txt``) cannot drift from ``pyproject.toml``: it pins
every package that installing the project with its dev and ray extras brings in, and every pin
lies inside the project's own ranges."""

import platform
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "test-lock.txt"
PROJECT = "sparse-recovery-mlp"
EXTRAS = ("dev", "ray")


def lock_pins() -> dict[str, Version]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def lock_platform() -> str:
    for line in LOCK.read_text().splitlines():
        if line.startswith("# platform: "):
            return line.removeprefix("# platform: ")
    raise AssertionError(f"{LOCK} names no platform")


def this_platform() -> str:
    return f"CPython {sys.version_info[0]}.{sys.version_info[1]}, {platform.system()} {platform.machine()}"


def project_requirements() -> list[Requirement]:
    """The base dependencies and those of the dev and ray extras, from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def installed_closure(root: str, extras: tuple[str, ...]) -> set[str]:
    """Every distribution that installing ``root[extras]`` brings in, as the installed packages'
    metadata says (markers evaluated for this interpreter and platform)."""
    seen: dict[str, frozenset[str]] = {}
    todo = [(root, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        dist = metadata.distribution(name)
        key = canonicalize_name(dist.metadata["Name"])
        if key in seen and wanted <= seen[key]:
            continue
        seen[key] = seen.get(key, frozenset()) | wanted
        for line in dist.requires or []:
            req = Requirement(line)
            environments = [{"extra": extra} for extra in wanted | {""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in environments):
                todo.append((req.name, frozenset(req.extras)))
    return set(seen) - {canonicalize_name(root)}


def test_every_pin_of_a_dependency_lies_in_the_projects_range():
    pins = lock_pins()
    for req in project_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is a dependency but the lock does not pin it"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"the lock pins {req.name}=={pins[name]}, outside pyproject.toml's {req.specifier}"
        )


def test_the_lock_covers_every_package_the_extras_install():
    if lock_platform() != this_platform():
        pytest.skip(f"the lock was made on {lock_platform()}; this is {this_platform()}")
    try:
        needed = installed_closure(PROJECT, EXTRAS)
    except metadata.PackageNotFoundError as exc:
        pytest.skip(f"the project is not installed with its extras here ({exc})")
    missing = sorted(needed - set(lock_pins()))
    assert missing == [], f"installed with the extras but not in {LOCK.name}: {missing}"


def test_the_closure_walk_finds_indirect_requirements():
    """The walk follows requirements of requirements (torch's own, jsonargparse's extra)."""
    try:
        needed = installed_closure(PROJECT, EXTRAS)
    except metadata.PackageNotFoundError as exc:
        pytest.skip(f"the project is not installed with its extras here ({exc})")
    assert {"torch", "pytest", "ray", "filelock", "typeshed-client"} <= needed
