"""The bundled sample platform, committed into a fresh git repository for demos and tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from shipyard.errors import InputError
from shipyard.git import git

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# The platform's Dockerfiles and manifests live in Shipyard's infra/ (one copy); the sample repository carries them.
SAMPLE_INFRA = ("docker", "k8s")
AUTHOR = ("-c", "user.name=Dana Developer", "-c", "user.email=dana@example.com")


def variants() -> list[str]:
    return sorted(p.name for p in (EXAMPLES / "variants").iterdir() if p.is_dir())


def create_sample_repo(dest: Path, variant: str | None = None, branch: str = "main") -> str:
    """Copy the sample platform (plus a variant overlay) into dest, commit it, return the commit SHA."""
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"{dest} is not empty")
    shutil.copytree(EXAMPLES / "platform", dest, dirs_exist_ok=True)
    for folder in SAMPLE_INFRA:
        # base/ holds Shipyard's own base-image recipes (images bootstrap), not the platform's Dockerfiles
        ignore = shutil.ignore_patterns("base", "shipyard")  # Shipyard's own images are not the platform's
        shutil.copytree(ROOT / "infra" / folder, dest / "infra" / folder, dirs_exist_ok=True, ignore=ignore)
    if variant is not None:
        overlay = EXAMPLES / "variants" / variant
        if not overlay.is_dir():
            raise InputError(f"unknown sample variant {variant!r}; variants are: {', '.join(variants())}")
        shutil.copytree(overlay, dest, dirs_exist_ok=True)
    git("init", "--quiet", "--initial-branch", branch, cwd=dest)
    git("add", "--all", cwd=dest)
    git(*AUTHOR, "commit", "--quiet", "-m", f"sample platform{f' ({variant})' if variant else ''}", cwd=dest)
    return git("rev-parse", "HEAD", cwd=dest).strip()


def commit_all(repo: Path, message: str, author: str | None = None) -> str:
    """Commit everything; `author` ('Name <email>') is then its author and committer instead of the sample's."""
    git("add", "--all", cwd=repo)
    name, _, email = (author or "").partition(" <")
    by = ("-c", f"user.name={name}", "-c", f"user.email={email.rstrip('>')}") if author else AUTHOR
    git(*by, "commit", "--quiet", "--allow-empty", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()
