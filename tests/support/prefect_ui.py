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
            page.goto(f"{ui_url}/runs/flow-run/{run_id}")
            page.get_by_role("button", name="Resume").click()
            dialog = page.locator(".p-modal__card")
            for label, value in fields.items():
                _fill(page, dialog, label, value)
            page.screenshot(path=str(screenshots / "approval-form.png"), full_page=True)
            dialog.get_by_role("button", name="Submit").click()
            try:  # the UI closes the form once the Prefect API accepted the resume; a loaded machine is slow at it
                dialog.wait_for(state="hidden", timeout=60_000)
            except PlaywrightTimeout:
                page.screenshot(path=str(screenshots / "after-submit.png"), full_page=True)
                raise AssertionError(f"the form stayed open after Submit:\n{dialog.inner_text()[-1500:]}") from None
        finally:
            browser.close()


def _fill(page: Any, dialog: Any, label: str, value: str) -> None:
    field = dialog.locator(".schema-form-property").filter(
        has=page.locator(".schema-form-property__label", has_text=label)
    )
    optional = field.get_by_role("button", name="str", exact=True)
    if optional.count():
        optional.click()  # an optional field starts as None: switch it to a string first
    field.locator("textarea, input").first.fill(value)
