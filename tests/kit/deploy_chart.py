"""The Helm chart in deploy/helm, rendered by Helm's own engine (helm-python-sdk, no binary).

`python -m tests.kit.deploy_chart write` regenerates the golden renders of the examples
(deploy/helm/examples/rendered/); `check` fails when they are stale. `make helm` runs both.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "deploy" / "helm"
EXAMPLES_DIR = CHART_DIR / "examples"
RENDERED_DIR = EXAMPLES_DIR / "rendered"
RELEASE = "dne"
NAMESPACE = "dne"
# The newest Kubernetes whose schemas kubernetes-validate ships in the pinned version.
KUBE_VERSION = "1.33.0"
COMPONENTS = ("engine", "executor", "feed", "gateway", "vault")
GRPC_COMPONENTS = ("engine", "executor", "feed", "vault")


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.yaml"))


def example_values(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((EXAMPLES_DIR / f"{name}.yaml").read_text())
    return loaded or {}


@cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART_DIR)


def render(values: dict[str, Any] | None = None) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` would produce offline."""
    return _chart().render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def documents(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object of a render (NOTES.txt is not one)."""
    objects: list[dict[str, Any]] = []
    for path in sorted(rendered):
        if path.endswith(".txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(rendered[path]) if doc)
    return objects


def golden_text(rendered: dict[str, str]) -> str:
    """One stream, in template order, each part headed like `helm template` heads it."""
    parts = []
    for path in sorted(rendered):
        if path.endswith(".txt") or not rendered[path].strip():
            continue
        body = rendered[path].strip().removeprefix("---").lstrip()
        parts.append(f"---\n# Source: {path}\n{body}\n")
    return "".join(parts)


def golden_path(name: str) -> Path:
    return RENDERED_DIR / f"{name}.yaml"


def stale_examples() -> Iterator[str]:
    for name in example_names():
        path = golden_path(name)
        if not path.is_file() or path.read_text() != golden_text(render(example_values(name))):
            yield name


def write_examples() -> None:
    RENDERED_DIR.mkdir(parents=True, exist_ok=True)
    for name in example_names():
        golden_path(name).write_text(golden_text(render(example_values(name))))


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "write":
        write_examples()
        print(f"wrote {', '.join(example_names())} into {RENDERED_DIR.relative_to(REPO_ROOT)}")
        return 0
    stale = list(stale_examples())
    if stale:
        print(f"stale golden renders: {', '.join(stale)}; run `make helm`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
