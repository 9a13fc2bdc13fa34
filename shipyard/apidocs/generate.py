"""Generate one app's API docs: its OpenAPI document from the code, rendered into a self-contained page."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from shipyard import git
from shipyard.checks.model import CheckResult, CheckSpec, Status, from_command, not_run
from shipyard.config.apps import App
from shipyard.deps import Prepared
from shipyard.runner import run
from shipyard.sandbox import SandboxUnavailable, read_back, sandboxed, temporary_beside

DRIVER = Path(__file__).with_name("driver.py")
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


def generate(
    spec: CheckSpec, app: App, prepared: Prepared, workspace: Path, sha: str, scratch: Path, out: Path
) -> CheckResult:
    assert app.docs is not None
    out.mkdir(parents=True, exist_ok=True)
    document = out / "openapi.json"
    exported = git.exported(workspace, sha, [app.path, *app.inputs], scratch / spec.slug)
    with exported as folder, temporary_beside(folder) as temp:
        written = temp / "openapi.json"  # the app's code writes in the sandbox; the report is copied out here
        command = [prepared.python, str(DRIVER), app.docs.openapi, str(written)]
        try:
            sandbox = prepared.sandbox((folder,), temp, readable=(DRIVER,))
            result = run(sandboxed(sandbox, command, folder / app.path), timeout=spec.timeout)
        except SandboxUnavailable as exc:
            return not_run(spec, Status.UNAVAILABLE, str(exc))
        produced = read_back(written, temp) if result.ok else None

    def verdict(status: Status, summary: str) -> CheckResult:
        return from_command(spec, result, status, summary)

    if not result.ok:
        error = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.returncode}"]
        return verdict(Status.FAILED, f"the OpenAPI schema of {app.docs.openapi} did not build: {error[0]}")
    try:
        schema = json.loads(produced or b"")
    except ValueError:
        return verdict(Status.FAILED, f"{app.docs.openapi} wrote no OpenAPI document (a JSON file of its own)")
    document.write_bytes(produced or b"")
    (out / "index.html").write_text(render(schema))
    operations = sum(1 for item in schema.get("paths", {}).values() for m in item if m in METHODS)
    return verdict(Status.PASSED, f"{operations} operations, OpenAPI {schema.get('openapi', '?')}: {out}/index.html")


def render(schema: dict[str, Any]) -> str:
    """One static page, no scripts or fonts from the network: it must open from a report folder offline."""
    info = schema.get("info", {})
    e = html.escape
    rows = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            params = ", ".join(
                f"{e(p['name'])} ({e(p.get('in', ''))}{', required' if p.get('required') else ''})"
                for p in op.get("parameters", [])
            )
            responses = ", ".join(
                f"{e(code)} {e(r.get('description', ''))}" for code, r in op.get("responses", {}).items()
            )
            body = "yes" if "requestBody" in op else ""
            rows.append(
                f"<tr><td class=m>{method.upper()}</td><td><code>{e(path)}</code></td>"
                f"<td>{e(op.get('summary', ''))}</td><td>{params}</td><td>{body}</td><td>{responses}</td></tr>"
            )
    models = "".join(
        f"<h3 id='{e(name)}'>{e(name)}</h3><pre>{e(json.dumps(model, indent=2))}</pre>"
        for name, model in sorted(schema.get("components", {}).get("schemas", {}).items())
    )
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{e(info.get('title', 'API'))} {e(str(info.get('version', '')))}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}.m{font-weight:bold}</style></head><body>"
        f"<h1>{e(info.get('title', 'API'))} <small>{e(str(info.get('version', '')))}</small></h1>"
        f"<p>{e(info.get('description', ''))}</p><p>OpenAPI {e(str(schema.get('openapi', '')))}</p>"
        "<table><tr><th>method</th><th>path</th><th>summary</th><th>parameters</th><th>body</th>"
        f"<th>responses</th></tr>{''.join(rows)}</table><h2>Models</h2>{models}</body></html>"
    )
