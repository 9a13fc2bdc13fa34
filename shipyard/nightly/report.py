"""The nightly report: tonight's results and how they compare with the last nights (markdown, pure)."""

from __future__ import annotations

from collections.abc import Sequence

from shipyard.ledger.store import NightlyView


def render(tonight: NightlyView, history: Sequence[NightlyView], rows: Sequence[dict[str, str]], load: str) -> str:
    """history: earlier nights, oldest first (tonight excluded); rows: the checks table."""
    lines = [
        f"# {tonight.project} nightly {tonight.at:%Y-%m-%d}: {'passed' if tonight.passed else 'FAILED'}",
        "",
        f"`{tonight.sha[:12]}` on `{tonight.branch}`. {tonight.headline}",
        "",
        "## Against the last nights",
        "",
        *_changes(tonight, history[-1] if history else None),
        "",
        "| night | commit | result | passed | failed | unavailable | load | p95 ms | error rate |",
        "|---|---|---|---:|---:|---:|---|---:|---:|",
        *(_trend_row(n) for n in [*history, tonight]),
        "",
        "## Load test",
        "",
        load or "not configured",
        "",
        "## Checks",
        "",
        "| app | check | toolchain | status | took |",
        "|---|---|---|---|---:|",
        *(f"| {r['app']} | {r['check']} | {r['toolchain']} | {r['status']} | {r['duration']} |" for r in rows),
    ]
    return "\n".join(lines) + "\n"


def _changes(tonight: NightlyView, last: NightlyView | None) -> list[str]:
    if last is None:
        return ["First night on record: nothing to compare with yet."]
    out = []
    if tonight.passed != last.passed:
        out.append(f"- result: {'passed' if last.passed else 'failed'} → {'passed' if tonight.passed else 'FAILED'}")
    for label, now, before in (
        ("failed checks", tonight.checks_failed, last.checks_failed),
        ("unavailable checks", tonight.checks_unavailable, last.checks_unavailable),
    ):
        if now != before:
            out.append(f"- {label}: {before} → {now}")
    if tonight.load_p95_ms is not None and last.load_p95_ms:
        change = (tonight.load_p95_ms - last.load_p95_ms) / last.load_p95_ms
        out.append(f"- load p95: {last.load_p95_ms:g} → {tonight.load_p95_ms:g} ms ({change:+.0%})")
    if tonight.load_error_rate is not None and last.load_error_rate is not None:
        out.append(f"- load error rate: {last.load_error_rate:.2%} → {tonight.load_error_rate:.2%}")
    return out or [f"- no change from {last.at:%Y-%m-%d}"]


def _trend_row(n: NightlyView) -> str:
    p95 = "-" if n.load_p95_ms is None else f"{n.load_p95_ms:g}"
    rate = "-" if n.load_error_rate is None else f"{n.load_error_rate:.2%}"
    return (
        f"| {n.at:%Y-%m-%d} | {n.sha[:12]} | {'passed' if n.passed else 'failed'} | {n.checks_passed} | "
        f"{n.checks_failed} | {n.checks_unavailable} | {n.load_status or '-'} | {p95} | {rate} |"
    )
