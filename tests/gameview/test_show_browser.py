"""`rift show` pages in a real headless Chromium: what is drawn on every cell, frame by frame, must be
the engine's replay of the game, and the buttons, keys and move list must step through it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from viewer.frames import replay_frames
from viewer.svg import PLAYER_COLOURS

from .games import game

# what each cell shows, read back from the drawn SVG (the inverse of viewer.svg.content_svg)
READ_CELLS = """() => Array.from(document.querySelectorAll('g.contents > g')).map((g) => {
  const s = g.querySelector('.stack'); if (s) return 's' + s.dataset.rings;
  const m = g.querySelector('.marker'); if (m) return 'm' + m.getAttribute('class').match(/p(\\d)/)[1];
  const c = g.querySelector('.collapsed'); if (c) return 'c' + c.getAttribute('class').match(/p(\\d)/)[1];
  return g.childElementCount ? '?' : '';
})"""


def frame_of(page: Any) -> int:
    return int(page.get_attribute("body", "data-frame"))


@pytest.mark.slow
@pytest.mark.parametrize("board,players,cells", [("square8", 4, 64), ("hexagonal", 2, 469)])
def test_rift_show_page_in_chromium(page: Any, screenshots: Path, tmp_path: Path, board: str, players: int,
                                    cells: int) -> None:
    record = game(board, players, seed=3, move_cap=400)
    source = tmp_path / "game.json"
    source.write_text(json.dumps(record))
    html = tmp_path / f"{board}_{players}p.html"
    res = CliRunner().invoke(app, ["show", str(source), "-o", str(html)])
    assert res.exit_code == 0, res.output
    rep = replay_frames(record)
    last = len(rep.diffs)

    page.goto(html.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("g.cells > g.cell").count() == cells
    assert frame_of(page) == 0 and page.evaluate(READ_CELLS) == [""] * cells
    assert page.locator("#moves li").count() == last

    page.keyboard.press("End")
    assert frame_of(page) == last
    assert page.evaluate(READ_CELLS) == rep.frame(last)
    assert page.inner_text("#counter") == f"{last} / {last}"
    page.screenshot(path=str(screenshots / f"show-{board}-{players}p-end.png"))

    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert frame_of(page) == last - 2 and page.evaluate(READ_CELLS) == rep.frame(last - 2)
    page.click("#next")
    assert frame_of(page) == last - 1 and page.evaluate(READ_CELLS) == rep.frame(last - 1)

    middle = last // 2
    page.click(f"#m{middle}")  # the move list: a click jumps to the position after that move
    assert frame_of(page) == middle and page.evaluate(READ_CELLS) == rep.frame(middle)
    assert page.inner_text("#last-move") == rep.moves[middle - 1]
    assert "current" in page.get_attribute(f"#m{middle}", "class")
    # the moved cells are highlighted; every stack's rings are drawn in their owners' colours, visibly
    lit = page.evaluate("() => Array.from(document.querySelectorAll('g.cell.hl')).map((g) => +g.id.slice(1))")
    assert lit == rep.highlights[middle - 1] and lit
    rings = page.evaluate("""() => Array.from(document.querySelectorAll('g.contents .ring')).map((r) => {
        const b = r.getBoundingClientRect(); return [r.getAttribute('class'), r.getAttribute('fill'), b.width, b.height];
    })""")
    assert len(rings) == sum(len(v) - 1 for v in rep.frame(middle) if v.startswith("s"))
    for cls, fill, w, h in rings:
        assert fill == PLAYER_COLOURS[int(cls[-1])] and w > 5 and h > 0.5
    seats = page.locator("#scores tr").count()
    assert seats == players
    page.screenshot(path=str(screenshots / f"show-{board}-{players}p-move{middle}.png"))

    page.click("#first")
    assert frame_of(page) == 0 and page.evaluate(READ_CELLS) == [""] * cells
    page.keyboard.press("PageDown")
    assert frame_of(page) == 10 and page.evaluate(READ_CELLS) == rep.frame(10)
    assert page.script_errors == []
