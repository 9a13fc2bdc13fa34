"""Write an ASGI app's OpenAPI document; run in the app's own environment, never imported by Shipyard.

`python driver.py module:attribute OUT.json`: attribute is the app, or a factory that returns it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any


def main(target: str, out: str) -> None:
    module_name, _, attribute = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    app = value if hasattr(value, "openapi") else value()
    if not hasattr(app, "openapi"):
        raise SystemExit(f"{target} is not an app with an OpenAPI schema (no .openapi()): got {type(app).__name__}")
    with open(out, "w") as handle:
        json.dump(app.openapi(), handle, indent=1)


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    main(sys.argv[1], sys.argv[2])
