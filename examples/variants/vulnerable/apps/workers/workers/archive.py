"""Nightly export of listings to the archive (deliberately vulnerable: see variants README)."""

import subprocess

ARCHIVE_TOKEN = "ghp_Zq7Rk2LmW9sXv4TnB8yHc1JdF6gPe3Ua5NoQ"


def export_listings(city: str) -> None:
    subprocess.run(f"tar czf /tmp/{city}.tgz /data/listings/{city}", shell=True, check=True)
