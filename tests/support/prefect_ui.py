"""Drives the real Prefect UI in headless Chromium (Playwright with Debian's chromium binary, no browser download)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.capabilities import require_tools

CHROMIUM = "/usr/bin/chromium"
# As root, without a sandbox; no background connections (this machine's network is closed to them).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def answer_approval_form(ui_url: str, run_id: str, fields: dict[str, str], screenshots: Path) -> None:
    """Open the suspended run, press Resume, fill the form's fields by their labels, submit."""
    require_tools("chromium")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            heard = _listen(page)
            page.goto(f"{ui_url}/runs/flow-run/{run_id}")
            page.get_by_role("button", name="Resume").click()
            dialog = page.locator(".p-modal__card")
            for label, value in fields.items():
                _fill(page, dialog, label, value)
            page.screenshot(path=str(screenshots / "approval-form.png"), full_page=True)
            submit = dialog.get_by_role("button", name="Submit")
            submit.click()
            if not _closes(dialog, PlaywrightTimeout) and not any("/resume" in line for line in heard):
                # Twice in ~10 loaded full runs the form stayed open after Submit and the run never resumed (cause not
                # found; what the page sent and heard is now reported). A user would press Submit again; a run
                # that does not resume still fails the test.
                heard.append("no resume request after 60 s: Submit pressed again")
                submit.click()
            if not _closes(dialog, PlaywrightTimeout):
                page.screenshot(path=str(screenshots / "after-submit.png"), full_page=True)
                toasts = page.locator(".p-toast").all_inner_texts()
                raise AssertionError(
                    f"the form stayed open after Submit:\n{dialog.inner_text()[-1500:]}\n"
                    f"toasts: {toasts}\nwhat the page heard:\n" + "\n".join(heard)
                )
        finally:
            browser.close()


def _closes(dialog: Any, timeout_error: type[Exception]) -> bool:
    """The UI closes the form once the Prefect API accepted the resume; a loaded machine is slow at it."""
    try:
        dialog.wait_for(state="hidden", timeout=60_000)
    except timeout_error:
        return False
    return True


def _listen(page: Any) -> list[str]:
    """The page's API answers and console errors, in order: what explains a form that does not close."""
    heard: list[str] = []

    def answered(response: Any) -> None:
        if "/api/" in response.url and response.request.method == "POST":
            heard.append(f"{response.status} POST {response.url.split('/api/', 1)[1]}: {_body(response)[:300]}")

    page.on("response", answered)
    page.on("requestfailed", lambda request: heard.append(f"failed {request.method} {request.url}: {request.failure}"))

    def logged(message: Any) -> None:
        if message.type == "error":
            heard.append(f"console: {message.text[:300]}")

    page.on("console", logged)
    return heard


def _body(response: Any) -> str:
    try:
        return str(response.text())
    except Exception as error:  # the body of a redirect or an aborted answer cannot be read
        return f"(no body: {error})"


def _fill(page: Any, dialog: Any, label: str, value: str) -> None:
    field = dialog.locator(".schema-form-property").filter(
        has=page.locator(".schema-form-property__label", has_text=label)
    )
    optional = field.get_by_role("button", name="str", exact=True)
    if optional.count():
        optional.click()  # an optional field starts as None: switch it to a string first
    field.locator("textarea, input").first.fill(value)
