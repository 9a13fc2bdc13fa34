"""Local base images from Debian's packages, for machines that cannot pull from a public registry.

debootstrap (minbase) → `docker import` gives shipyard/debian:bookworm; the Python and Node runtime and builder
bases are built on it from infra/docker/base/. A user with Docker Hub sets images.build_args to python:3.12-slim
and friends instead and never needs this.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.images import engine
from shipyard.runner import run
from shipyard.sample import ROOT

DEBIAN = "shipyard/debian:bookworm"
BASES = {  # image: Dockerfile in infra/docker/base
    "shipyard/python-runtime:3.11": "python-runtime.Dockerfile",
    "shipyard/python-builder:3.11": "python-builder.Dockerfile",
    "shipyard/node-runtime:18": "node-runtime.Dockerfile",
    "shipyard/node-builder:18": "node-builder.Dockerfile",
}
TRIMMED = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info")
EXTRA_CA = Path("/usr/local/share/ca-certificates")
RECIPE_LABEL = "org.shipyard.recipe"


class BootstrapFailed(ShipyardError):
    pass


def debian_mirror(apt: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (never a fixed host: it differs per network)."""
    for source in sorted(apt.glob("sources.list.d/*.sources")):
        for stanza in source.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", stanza, re.M))
            suites = fields.get("Suites", "").split()
            if "bookworm" in suites and "main" in fields.get("Components", "").split():
                return str(fields["URIs"].split()[0])
    legacy = apt / "sources.list"
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if parts[:1] == ["deb"] and "bookworm" in parts and "main" in parts:
                return next(p for p in parts[1:] if "://" in p)
    raise BootstrapFailed("no Debian bookworm mirror in /etc/apt: cannot debootstrap a base image")


def bootstrap(api: Any, force: bool = False) -> list[str]:
    """Create whichever base images are missing (all with force); returns the ones created."""
    created = []
    if force or not _exists(api, DEBIAN):
        _import_debian(api)
        created.append(DEBIAN)
    recipes = ROOT / "infra" / "docker" / "base"
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sorted(recipes.iterdir()))).hexdigest()
    with tempfile.TemporaryDirectory(prefix="shipyard-base-") as folder:
        context = Path(folder)
        shutil.copytree(recipes, context, dirs_exist_ok=True)
        (context / "ca").mkdir()
        for cert in EXTRA_CA.glob("*.crt") if EXTRA_CA.is_dir() else []:
            shutil.copy(cert, context / "ca" / cert.name)
        for image, dockerfile in BASES.items():
            if force or DEBIAN in created or _recipe_of(api, image) != digest:
                try:
                    engine.build(api, context, dockerfile, image, {"DEBIAN_BASE": DEBIAN}, timeout=900,
                                 labels={RECIPE_LABEL: digest}, network="host")  # our own recipes, apt  # fmt: skip
                except engine.BuildFailed as exc:
                    raise BootstrapFailed(f"base image {image}: {exc}") from None
                created.append(image)
    return created


def _import_debian(api: Any) -> None:
    if shutil.which("debootstrap") is None:
        raise BootstrapFailed("debootstrap is not installed (Debian package debootstrap)")
    with tempfile.TemporaryDirectory(prefix="shipyard-rootfs-") as folder:
        rootfs, tarball = Path(folder) / "rootfs", Path(folder) / "rootfs.tar"
        result = run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), debian_mirror()], timeout=900)
        if not result.ok:
            raise BootstrapFailed(f"debootstrap failed (exit {result.returncode}):\n{result.tail(15)}")
        for trimmed in TRIMMED:
            shutil.rmtree(rootfs / trimmed, ignore_errors=True)
        run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], timeout=300, check=True, what="packing the rootfs")
        repository, tag = DEBIAN.split(":")
        api.import_image(src=str(tarball), repository=repository, tag=tag)


def _recipe_of(api: Any, image: str) -> str | None:
    """Which version of infra/docker/base built the image: a changed recipe rebuilds it."""
    try:
        labels = api.inspect_image(image)["Config"].get("Labels") or {}
    except Exception:  # docker.errors.ImageNotFound
        return None
    return str(labels.get(RECIPE_LABEL)) if RECIPE_LABEL in labels else None


def _exists(api: Any, image: str) -> bool:
    try:
        api.inspect_image(image)
    except Exception:  # docker.errors.ImageNotFound, kept generic so the core needs no docker import here
        return False
    return True
