"""URL slugs for listings."""

import os


def slugify(title: str) -> str:
    return "-".join(title.lower().split())
