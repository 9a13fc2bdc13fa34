"""The images stage on a real Docker engine and registry: build, tag, push, read back, run."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from shipyard.checks.model import CheckSpec, Status
from shipyard.config import load_config
from shipyard.files import free_port
from shipyard.images.prefetch import folder
from shipyard.images.registry import RegistryClient
from shipyard.images.stage import ImageJob, build_and_push
from shipyard.sample import commit_all, create_sample_repo
from tests.conftest import REGISTRY_PASSWORD, REGISTRY_USER
from tests.e2e.test_pr_checks import client_for, shipyard

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("base_images")]

APPS = ("api", "web", "workers", "ml")


def sample_with_registry(tmp_path: Path, registry: str, extra: str = "") -> tuple[Path, str]:
    repo = tmp_path / "sample"
    create_sample_repo(repo)
    config = repo / "shipyard.yaml"
    text = config.read_text().replace("  registry: 127.0.0.1:5000\n", f"  registry: {registry}\n{extra}", 1)
    text = text.replace("  push_attempts: 3\n", "") if "push_attempts" in extra else text
    config.write_text(text)
    return repo, commit_all(repo, "images to the test registry")


def images_run(env: dict[str, str], repo: Path, sha: str, *more: str) -> Any:
    return shipyard(env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--branch", "main",
                    "--stage", "images", *more)  # fmt: skip


def test_with_images_builds_pushes_and_the_registry_lists_every_tag(
    shipyard_env: dict[str, str], registry: str, docker_engine: Any, tmp_path: Path
) -> None:
    repo, sha = sample_with_registry(tmp_path, registry)
    run = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--branch", "main",
                   "--stage", "docs", "--with-images")  # fmt: skip
    assert run.code == 0, run.output  # images are optional on main: over-budget images do not block
    client = RegistryClient(registry)
    for app in APPS:  # a pull request's build: never under the names a release or a deploy reads
        tags = sorted([f"sha-{sha[:12]}", "v1.4.2", "1.4", "1", "main"])
        assert client.tags(f"platform/untrusted/{app}") == tags, run.output
        assert client.tags(f"platform/{app}") == [], app
        assert f"{app}/image" in run.output
    assert "ml/image (" not in run.output.strip().splitlines()[-1]  # ml is within its 500 MB budget
    with client_for(shipyard_env) as prefect:
        artifacts = prefect.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.flow_run_id]))
        )
    sizes = next(a for a in artifacts if a.key == "image-sizes")
    assert isinstance(sizes.data, str) and "reduction vs dev" in sizes.data and "compressed" in sizes.data

    image = f"{registry}/platform/untrusted/api:sha-{sha[:12]}"
    port = free_port()
    container = docker_engine.create_container(
        image,
        environment={"UVICORN_PORT": str(port)},
        host_config=docker_engine.create_host_config(network_mode="host", read_only=True),
    )
    try:
        docker_engine.start(container)
        deadline, answer = time.monotonic() + 30, None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answer == {"status": "ok"}
        uid = docker_engine.exec_start(
            docker_engine.exec_create(container, ["python3", "-c", "import os; print(os.getuid())"])
        )
        assert uid.decode().strip() == "1001"
        assert docker_engine.inspect_container(container)["HostConfig"]["ReadonlyRootfs"] is True
    finally:
        docker_engine.remove_container(container, force=True)


def save_credentials(env: dict[str, str], name: str, password: str, registry: str) -> None:
    code = (
        "from prefect_docker.credentials import DockerRegistryCredentials as C; import sys; "
        "C(username=sys.argv[1], password=sys.argv[2], registry_url=sys.argv[3]).save(sys.argv[4], overwrite=True)"
    )
    subprocess.run([sys.executable, "-c", code, REGISTRY_USER, password, registry, name], env=env, check=True)


def test_wrong_credentials_fail_the_build_check_with_the_registrys_message_and_push_nothing(
    shipyard_env: dict[str, str], private_registry: str, tmp_path: Path
) -> None:
    save_credentials(shipyard_env, "wrong-registry-login", "not-the-password", private_registry)
    extra = "  credentials_block: wrong-registry-login\n  push_attempts: 2\n"
    repo, sha = sample_with_registry(tmp_path, private_registry, extra)
    run = images_run(shipyard_env, repo, sha, "--app", "api")
    assert run.code == 0, run.output  # optional stage
    assert "push of" in run.output and "failed after 2 attempt(s)" in run.output
    assert "unauthorized" in run.output.lower()
    assert "not-the-password" not in run.output
    assert RegistryClient(private_registry, REGISTRY_USER, REGISTRY_PASSWORD).tags("platform/untrusted/api") == []


def test_the_right_credentials_push(shipyard_env: dict[str, str], private_registry: str, tmp_path: Path) -> None:
    save_credentials(shipyard_env, "registry-login", REGISTRY_PASSWORD, private_registry)
    repo, sha = sample_with_registry(tmp_path, private_registry, "  credentials_block: registry-login\n")
    run = images_run(shipyard_env, repo, sha, "--app", "workers")
    assert "workers/image" in run.output
    assert f"sha-{sha[:12]}" in RegistryClient(private_registry, REGISTRY_USER, REGISTRY_PASSWORD).tags(
        "platform/untrusted/workers"
    )


def test_registry_down_fails_after_the_attempts(shipyard_env: dict[str, str], tmp_path: Path) -> None:
    repo, sha = sample_with_registry(tmp_path, f"127.0.0.1:{free_port()}", "  push_attempts: 2\n")
    run = images_run(shipyard_env, repo, sha, "--app", "ml")
    assert "failed after 2 attempt(s)" in run.output and "connection refused" in run.output.lower()


class FailingSecondPush:
    """The real engine, except that pushing any tag after the first fails with a registry's error."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.pushes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    def push(self, repository: str, tag: str, **kwargs: Any) -> Any:
        self.pushes += 1
        if tag != "first":
            return iter([{"error": "received unexpected HTTP status: 500 Internal Server Error"}])
        return self.api.push(repository, tag=tag, **kwargs)


def test_a_push_that_fails_half_way_leaves_no_partial_tag(docker_engine: Any, registry: str, tmp_path: Path) -> None:
    repo = tmp_path / "sample"
    create_sample_repo(repo)
    config = load_config(repo / "shipyard.yaml")
    images = config.images.model_copy(update={"registry": registry, "push_attempts": 2})
    folder(repo, "ml")  # the production image installs the standard library only: nothing to fetch
    settings = images.apps["ml"].model_copy(update={"dev_dockerfile": None})
    job = ImageJob("ml", settings, images, repo, ("first", "second"))
    spec = CheckSpec.for_stage("images", "ml", "image", required=False, on_unavailable="fail", timeout=600,
                               content_key="")  # fmt: skip
    client = RegistryClient(registry)
    api = FailingSecondPush(docker_engine)
    result = build_and_push(spec, job, api, client, None, backoff=lambda attempt: 0)
    assert result.status is Status.FAILED
    assert result.summary == (
        f"push of {registry}/platform/untrusted/ml:second failed after 2 attempt(s): received unexpected HTTP status: "
        "500 Internal Server Error; removed the tags pushed before the failure: first"
    )
    assert api.pushes == 3
    assert client.tags("platform/untrusted/ml") == []


ATTACK = """\
import socket, sys, urllib.request
for name, port in (("prefect api", {listener}), ("registry", {registry_port})):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        print(name, "REACHED")
    except OSError as exc:
        print(name, "UNREACHABLE", type(exc).__name__)
manifest = urllib.request.Request("http://{registry}/v2/platform/api/manifests/pwned", data=b"{{}}", method="PUT",
                                  headers={{"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}})
try:
    urllib.request.urlopen(manifest, timeout=3)
    print("manifest PUT ACCEPTED")
except urllib.error.HTTPError as exc:
    print("manifest PUT ANSWERED", exc.code)  # the registry was reached, whatever it said
except OSError as exc:
    print("manifest PUT UNREACHABLE", type(exc).__name__)
"""


def test_a_pull_requests_dockerfile_reaches_neither_the_machine_nor_the_registry(
    shipyard_env: dict[str, str], registry: str, docker_engine: Any, tmp_path: Path
) -> None:
    with socket.socket() as listener:  # stands for the Prefect API on 127.0.0.1:4200
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        repo, _ = sample_with_registry(tmp_path, registry)
        port = listener.getsockname()[1]
        attack = ATTACK.format(listener=port, registry=registry, registry_port=registry.split(":")[1])
        (repo / "infra" / "docker" / "attack.py").write_text(attack)
        (repo / "infra" / "docker" / "api.Dockerfile").write_text(
            "ARG PYTHON_BUILDER=shipyard/python-builder:3.11\nFROM ${PYTHON_BUILDER}\n"
            "COPY infra/docker/attack.py /attack.py\nRUN python3 /attack.py > /attack.txt 2>&1; cat /attack.txt\n"
        )
        config = yaml.safe_load((repo / "shipyard.yaml").read_text())
        config["images"]["apps"] = {"api": {"dockerfile": "infra/docker/api.Dockerfile", "budget_mb": 1000}}
        (repo / "shipyard.yaml").write_text(yaml.safe_dump(config))
        sha = commit_all(repo, "a pull request's Dockerfile")
        run = images_run(shipyard_env, repo, sha, "--app", "api")
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing connected
    pushed = RegistryClient(registry).tags("platform/untrusted/api")
    assert f"sha-{sha[:12]}" in pushed, run.output  # the build ran, passed and was pushed where PR images go
    image = f"{registry}/platform/untrusted/api:sha-{sha[:12]}"
    # the build's RUN step wrote what it reached into the image
    offline = docker_engine.create_host_config(network_mode="none")
    container = docker_engine.create_container(image, ["cat", "/attack.txt"], host_config=offline)
    try:
        docker_engine.start(container)
        docker_engine.wait(container, timeout=60)
        said = docker_engine.logs(container).decode()
    finally:
        docker_engine.remove_container(container, force=True)
    assert "prefect api UNREACHABLE" in said and "registry UNREACHABLE" in said, said
    assert "manifest PUT UNREACHABLE" in said and "REACHED" not in said, said
    assert RegistryClient(registry).tags("platform/api") == []
