"""The head of the smallest pipeline config the release tests share: one Python app, `api`, with one check.

No braces in it, so a test can append its own part and `.format()` the whole."""

API_APP = """\
version: 1
project: demo
apps:
  api:
    path: apps/api
    toolchain: python
    versions: ["3.11"]
    lockfile: requirements.lock
    checks:
      lint: ruff check .
"""
