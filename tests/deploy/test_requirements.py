"""The package lists: every package pinned with its hashes, the image's list complete for what the
services import, and the README's table of packages driftpy holds back true to the lock and to
driftpy's own metadata."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.kit import deploy_chart

ROOT = deploy_chart.REPO_ROOT
FIRST_PARTY = {"services", "dne", "tests", "__future__"}


def locked(name: str) -> dict[str, tuple[str, list[str]]]:
    """Package → (version, hashes), from a pip-compile output with --generate-hashes."""
    text = (ROOT / name).read_text()
    entries: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
            entries[canonicalize_name(match[1])] = (match[2], hashes)
    return entries


RUNTIME = locked("requirements.txt")
DEV = locked("requirements-dev.txt")


def test_every_package_is_pinned_exactly_with_its_hashes():
    for name in ("requirements.txt", "requirements-dev.txt"):
        lines = [line for line in (ROOT / name).read_text().splitlines()
                 if line and not line.lstrip().startswith(("#", "--hash"))]
        for line in lines:
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==\S+ \\", line), f"{name}: {line!r}"
    for package, (version, hashes) in {**DEV, **RUNTIME}.items():
        assert hashes, f"{package}=={version} has no hash"


def test_the_dev_list_holds_the_shared_packages_at_the_image_versions():
    shared = RUNTIME.keys() & DEV.keys()
    assert {"urllib3", "idna", "anyio"} <= shared
    assert {name: DEV[name][0] for name in shared} == {name: RUNTIME[name][0] for name in shared}


def test_the_installed_venv_is_the_locked_one():
    for package, (version, _) in {**DEV, **RUNTIME}.items():
        assert importlib.metadata.version(package) == version, package


def test_every_module_the_services_import_comes_from_the_image_list():
    imported: set[str] = set()
    for path in (ROOT / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - FIRST_PARTY
    providers = importlib.metadata.packages_distributions()
    missing = {module: providers.get(module) for module in sorted(third_party)
               if not {canonicalize_name(d) for d in providers.get(module, [])} & RUNTIME.keys()}
    assert missing == {}, "imported by services/ but not installed in the image"
    assert not {"pytest", "playwright", "hypothesis", "ruff"} & RUNTIME.keys()


def test_make_env_and_the_image_install_in_hash_checking_mode():
    dry_run = subprocess.run(["make", "-n", "-B", ".venv/.installed"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert re.search(r"pip install .*--require-hashes\s*\\?\s*-r requirements.txt "
                     r"-r requirements-dev.txt", dry_run)
    assert "pip install --require-hashes --no-deps -r requirements.txt" in \
        (ROOT / "Dockerfile").read_text()


def held_back_rows() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Dependencies\n", 1)[1].split("\n## ", 1)[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]
    assert rows[0][:4] == ["package", "locked", "advisories (fixed in)", "held by"]
    return rows[1:]


def test_each_held_back_package_is_at_the_version_the_readme_names():
    rows = held_back_rows()
    assert {"h11", "urllib3", "idna", "dnspython"} <= {row[0].lower() for row in rows}
    for package, version, *_ in rows:
        assert RUNTIME[canonicalize_name(package)][0] == version, package


def test_each_pin_the_readme_quotes_is_in_the_holders_metadata():
    for package, _, _, held_by, *_ in held_back_rows():
        quoted = re.findall(r"`([\w.\-]+): ([^`]+)`", held_by)
        assert quoted, f"{package}: no pin quoted"
        for holder, pin in quoted:
            declared = [Requirement(line) for line in importlib.metadata.requires(holder) or []]
            wanted = Requirement(pin)
            assert any(canonicalize_name(r.name) == canonicalize_name(wanted.name)
                       and r.specifier == wanted.specifier and r.marker is None
                       for r in declared), f"{holder} no longer declares {pin}"
