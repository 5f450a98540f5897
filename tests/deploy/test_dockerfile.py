"""The image the chart runs. No Docker engine here: the Dockerfile is checked as text."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from fnmatch import fnmatch

import yaml

from tests.kit import deploy_chart

ROOT = deploy_chart.REPO_ROOT
DOCKERFILE = (ROOT / "Dockerfile").read_text()


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [args for op, args in self.instructions if op == instruction]


def stages() -> list[Stage]:
    # Join continued lines, drop comments, split into stages at each FROM.
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    result: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, args = line.partition(" ")
        if op.upper() == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", args.strip(), flags=re.IGNORECASE)
            assert match, f"every stage is named: {line}"
            result.append(Stage(match[1], match[2]))
        elif result:
            result[-1].instructions.append((op.upper(), args.strip()))
    return result


def copied_sources(stage: Stage) -> list[str]:
    """Sources a stage copies from the build context (not from another stage)."""
    sources = []
    for args in stage.args("COPY"):
        words = args.split()
        if any(word.startswith("--from") for word in words):
            continue
        sources.extend(word for word in words[:-1] if not word.startswith("--"))
    return sources


def test_build_is_multi_stage_and_the_runtime_stage_is_last() -> None:
    names = [stage.name for stage in stages()]
    assert len(names) >= 2 and names[-1] == "runtime"
    runtime = stages()[-1]
    assert {"--from=build"} <= {args.split()[0] for args in runtime.args("COPY")}
    assert not runtime.args("RUN") or all("pip install" not in run for run in runtime.args("RUN"))


def test_runtime_runs_as_the_non_root_user_the_chart_expects() -> None:
    (user,) = stages()[-1].args("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0, "numeric, so Kubernetes can check runAsNonRoot"
    values = yaml.safe_load((deploy_chart.CHART_DIR / "values.yaml").read_text())
    assert int(uid) == values["default"]["podSecurityContext"]["runAsUser"]
    assert int(gid) == values["default"]["podSecurityContext"]["runAsGroup"]


def test_build_installs_the_pinned_requirements_and_compiles_the_protos() -> None:
    build = stages()[0]
    assert {"requirements.txt", "protos/", "services/", "config/", "frontend/"} <= \
        set(copied_sources(build))
    runs = " ".join(build.args("RUN"))
    assert "pip install --require-hashes --no-deps -r requirements.txt" in runs
    assert "requirements-dev" not in runs
    assert "grpc_tools.protoc -I protos" in runs and "--python_out=gen" in runs


def test_runtime_carries_the_code_generated_code_config_frontend_and_data() -> None:
    copies = " ".join(stages()[-1].args("COPY"))
    for path in ("/opt/venv", "/src/gen", "/src/services", "/src/config", "/src/frontend"):
        assert f"--from=build {path}" in copies
    assert "--from=build /src/data /opt/dne/data/" in copies
    assert "--from=" not in copies.replace("--from=build", ""), "no build context beside the repo"
    env = " ".join(stages()[-1].args("ENV"))
    assert "DNE_DATA_DIR=/opt/dne/data" in env and "PYTHONPATH=/app:/app/gen" in env


def test_the_state_directory_is_where_the_chart_mounts_its_volume() -> None:
    values = yaml.safe_load((deploy_chart.CHART_DIR / "values.yaml").read_text())
    mount = values["default"]["persistence"]["mountPath"]
    assert f'VOLUME ["{mount}"]' in DOCKERFILE
    assert f"sqlite:///{values['database']['sqlitePath']}" in DOCKERFILE


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "**", "ignore everything, then let in what the image needs"
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    sources = {src.rstrip("/") for src in copied_sources(stages()[0])}
    assert sources == allowed
    for source in sources:
        assert (ROOT / source).exists()
    assert not any(fnmatch(".venv", p) for p in allowed)


def test_make_image_builds_from_the_repository_alone() -> None:
    dry_run = subprocess.run(["make", "-n", "image"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert "docker build -t" in dry_run and "--build-context" not in dry_run
    assert "-t delta-neutral-engine:0.1.0 ." in dry_run
