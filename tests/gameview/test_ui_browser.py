"""After a real iteration, the Prefect UI (a real `prefect server start`) shows the learning-curve image
and links to the game viewer, checked in headless Chromium; screenshots go to runs/screenshots/.

One tiny square8 2p iteration runs through `rift iterate --local` against the server, as a researcher
would run it. No step depends on how fast this machine is: waits poll for a state, with caps far
above the slowest run seen, only so that a hang fails instead of blocking CI forever.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = "square8_2p"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(url + path, data=json.dumps(body or {}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST" if body is not None
                                 else "GET")
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("ui")
    port = free_port()
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RIFT_"))}
    env = {**keep, "PREFECT_HOME": str(root / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PYTHONPATH": str(REPO),
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600"}
    log = open(root / "server.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                             str(port)], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 900  # a hang guard, not a speed requirement
        while True:
            assert proc.poll() is None, f"prefect server exited: {(root / 'server.log').read_text()[-3000:]}"
            try:
                api(env["PREFECT_API_URL"], "/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "prefect server never answered /api/health"
                time.sleep(1)
        yield {"root": root, "env": env, "ui": f"http://127.0.0.1:{port}", "api": env["PREFECT_API_URL"]}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def artifact(server: dict[str, Any], key: str) -> dict[str, Any]:
    found = api(server["api"], "/artifacts/filter", {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC",
                                                      "limit": 1})
    assert found, f"no artifact {key}"
    return found[0]


def wait_rendered(page: Any, selector: str) -> Any:
    """The element once the UI has drawn it and its image (if any) has loaded."""
    page.wait_for_selector(selector, state="visible")
    page.wait_for_function("(s) => { const e = document.querySelector(s); return e && (e.tagName !== 'IMG' || "
                           "(e.complete && e.naturalWidth > 0)); }", arg=selector)
    return page.locator(selector).first


@pytest.mark.slow
def test_prefect_ui_shows_learning_curve_and_game_viewer_links(ui_server: dict[str, Any], page: Any,
                                                               screenshots: Path) -> None:
    data = ui_server["root"] / "data"
    run = subprocess.run([sys.executable, "-m", "cli.main", "iterate", "--board", "square8", "--players", "2",
                          "--profile", "tiny", "--local", "--data-dir", str(data)], cwd=REPO, env=ui_server["env"],
                         capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    summary = artifact(ui_server, "iteration-square8-2p")
    page.goto(f"{ui_server['ui']}/artifacts/artifact/{summary['id']}")
    curve = wait_rendered(page, "img[alt='learning curve of square8_2p']")
    box = curve.bounding_box()
    assert box["width"] > 300 and box["height"] > 100  # drawn at a readable size, not a broken-image icon
    assert curve.get_attribute("src").startswith("data:image/png;base64,")
    links = page.locator("a:has-text('open the game viewer')")
    assert links.count() >= 2  # the longest game and at least one seat's win
    thumbs = page.locator("img[alt^='final position of']")
    assert thumbs.count() == links.count()
    wait_rendered(page, "img[alt^='final position of']")
    hrefs = [links.nth(k).get_attribute("href") for k in range(links.count())]
    assert any("/eval-" in h for h in hrefs)  # one of the new model's evaluation games
    curve.screenshot(path=str(screenshots / "ui-iteration-learning-curve.png"))
    page.locator("h2:has-text('Games')").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "ui-iteration-games.png"))
    page.set_viewport_size({"width": 1360, "height": 4000})  # the UI scrolls inside a panel: show it all
    page.screenshot(path=str(screenshots / "ui-iteration-summary.png"))
    page.set_viewport_size({"width": 1360, "height": 900})

    # the image artifact and the run-level report render the plots too
    image = artifact(ui_server, "learning-curve-square8-2p")
    page.goto(f"{ui_server['ui']}/artifacts/artifact/{image['id']}")
    wait_rendered(page, "img[src^='data:image/png']")
    page.screenshot(path=str(screenshots / "ui-learning-curve-artifact.png"))
    report = artifact(ui_server, "report-square8-2p")
    page.goto(f"{ui_server['ui']}/artifacts/artifact/{report['id']}")
    for name in ("learning_curve", "losses", "throughput", "seats"):
        wait_rendered(page, f"img[alt='{name}']")
    page.set_viewport_size({"width": 1360, "height": 3000})
    page.screenshot(path=str(screenshots / "ui-report-artifact.png"))
    page.set_viewport_size({"width": 1360, "height": 900})

    # a viewer link leads to the stored page, which shows the game
    href = hrefs[0]
    assert href.startswith("file://") and "/artifacts/viewer/square8_2p/i1/" in href
    page.goto(href)
    page.wait_for_selector("body[data-ready='1']")
    assert page.get_attribute("body", "data-board") == "square8" and int(page.get_attribute("body", "data-moves")) > 0
    page.keyboard.press("End")
    assert page.locator("g.contents .stack, g.contents .marker, g.contents .collapsed").count() > 0
    page.screenshot(path=str(screenshots / "ui-linked-game-viewer.png"))
    assert page.script_errors == []
