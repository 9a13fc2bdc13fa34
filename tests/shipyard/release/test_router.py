"""The local router: a real HAProxy in front of two real HTTP servers, weights changed under load."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shipyard.release.backend import RouterError
from shipyard.release.probe import LoadGenerator
from tests.capabilities import require_tools
from tests.support.colours import blue_green


@pytest.fixture(autouse=True)
def _haproxy() -> None:
    require_tools("haproxy")


def test_shifting_weights_under_load_fails_no_request(tmp_path: Path) -> None:
    with blue_green(tmp_path, {"blue": 100, "green": 0}) as colours, LoadGenerator(colours.router.url) as load:
        time.sleep(1.0)
        for weight in (10, 50, 100):
            colours.router.set_weights({"blue": 100 - weight, "green": weight})
            assert colours.router.weights() == {"blue": 100 - weight, "green": weight}
            load.open_window()
            time.sleep(1.0)
            window = load.open_window()
            assert window.failures == 0
            share = window.by_colour["green"] / max(1, window.requests)
            assert abs(share - weight / 100) < 0.2, (weight, window.by_colour)
    assert load.total.failures == 0, load.total.errors
    assert load.total.requests > 300
    assert load.total.by_colour["green"] > 0 and load.total.by_colour["blue"] > 0


def test_requests_sent_to_a_colour_that_died_are_retried_on_the_other(tmp_path: Path) -> None:
    """A request the dead colour was answering at the instant it was killed may fail (nothing can replay half
    a response); every request routed to it afterwards, before the health check notices, is retried."""
    with blue_green(tmp_path, {"blue": 50, "green": 50}) as colours, LoadGenerator(colours.router.url) as load:
        time.sleep(0.5)
        colours.servers["green"].kill()
        time.sleep(0.05)
        load.open_window()  # whatever was in flight at the kill is counted before this
        time.sleep(1.5)
        after = load.open_window()
    assert after.failures == 0, after.errors  # retry-on conn-failure + redispatch
    assert after.requests > 100 and after.by_colour["green"] == 0


def test_weights_survive_a_router_restart(tmp_path: Path) -> None:
    with blue_green(tmp_path, {"blue": 100, "green": 0}) as colours:
        colours.router.set_weights({"blue": 10, "green": 90})
        colours.router.stop()
        assert not colours.router.running()
        assert not colours.router.socket_path.exists()  # HAProxy leaves its admin socket behind: stop removes it
        colours.router.ensure_running({"blue": 100, "green": 0})  # the saved split wins over the first-time default
        assert colours.router.running()
        assert colours.router.weights() == {"blue": 10, "green": 90}


def test_unknown_colour_is_refused(tmp_path: Path) -> None:
    with blue_green(tmp_path, {"blue": 100, "green": 0}) as colours, pytest.raises(RouterError, match="unknown colour"):
        colours.router.set_weights({"red": 100})
