"""The game viewer page: one self-contained HTML file (no network, no external script or font).

The board is drawn once as SVG (viewer.svg); the page's script holds the replay's diffs and the
drawing of each distinct cell content, and on every step redraws only the cells that changed.
Controls: first / back / play / forward / last buttons, a slider, the move list (click a move),
and the keyboard (Left/Right step, Home/End, PageUp/PageDown ten moves, Space play/pause).
"""
from __future__ import annotations

import json
from html import escape
from typing import Any

from viewer.frames import Replay, replay_frames
from viewer.svg import PLAYER_COLOURS, STYLE, board_svg, content_svg, layout

SCRIPT = r"""
const D = JSON.parse(document.getElementById('game-data').textContent);
const N = D.initial.length, F = D.diffs.length;
const cells = D.initial.slice();
let shown = D.initial.slice(), frame = 0, timer = null, lit = [];
const $ = (id) => document.getElementById(id);
const states = [D.initial.slice()];
for (const diff of D.diffs) { const s = states[states.length - 1].slice(); for (const [c, v] of diff) s[c] = v; states.push(s); }
function draw(k) {
  k = Math.max(0, Math.min(F, k));
  const s = states[k];
  for (let c = 0; c < N; c++) if (s[c] !== shown[c]) { $('c' + c).innerHTML = D.snippets[s[c]]; }
  shown = s;
  for (const c of lit) $('b' + c).classList.remove('hl');
  lit = k > 0 ? D.highlights[k - 1] : [];
  for (const c of lit) $('b' + c).classList.add('hl');
  frame = k;
  $('slider').value = k;
  $('counter').textContent = k + ' / ' + F;
  $('last-move').textContent = k > 0 ? D.moves[k - 1] : 'start of the game';
  const st = D.status[k];
  $('phase').textContent = st[1] === 'game over' ? 'game over' : 'P' + st[0] + ' to play, ' + st[1].replace(/_/g, ' ');
  const rows = st[2].map((v, i) => '<tr><td><span class="swatch" style="background:' + D.colours[i] + '"></span>P' +
      (i + 1) + '</td><td>' + v[0] + '</td><td>' + v[3] + '</td><td>' + v[1] + '</td><td>' + v[2] + '</td></tr>');
  $('scores').innerHTML = rows.join('');
  document.querySelectorAll('#moves li.current').forEach((e) => e.classList.remove('current'));
  if (k > 0) {
    const li = $('m' + k), ol = $('moves'); li.classList.add('current');
    if (li.offsetTop < ol.scrollTop || li.offsetTop + li.offsetHeight > ol.scrollTop + ol.clientHeight)
      ol.scrollTop = li.offsetTop - ol.clientHeight / 2;
  }
  document.body.dataset.frame = k;
}
function play() {
  if (timer) { clearInterval(timer); timer = null; $('play').textContent = 'Play'; return; }
  if (frame >= F) draw(0);
  $('play').textContent = 'Pause';
  timer = setInterval(() => { if (frame >= F) { play(); } else { draw(frame + 1); } }, 350);
}
$('first').onclick = () => draw(0);
$('prev').onclick = () => draw(frame - 1);
$('next').onclick = () => draw(frame + 1);
$('last').onclick = () => draw(F);
$('play').onclick = play;
$('slider').max = F;
$('slider').oninput = (e) => draw(+e.target.value);
$('moves').onclick = (e) => { const li = e.target.closest('li'); if (li) draw(+li.dataset.k); };
document.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'INPUT' && e.key !== ' ') return;
  const keys = {ArrowRight: frame + 1, ArrowLeft: frame - 1, Home: 0, End: F, PageDown: frame + 10, PageUp: frame - 10};
  if (e.key in keys) { draw(keys[e.key]); e.preventDefault(); }
  else if (e.key === ' ') { play(); e.preventDefault(); }
});
draw(D.start === 'end' ? F : 0);
document.body.dataset.ready = '1';
"""

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px 16px;background:#fbf8f1;color:#222}
h1{font-size:18px;margin:0 0 4px}.meta{color:#555;margin:0 0 8px}
.wrap{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}
.boardbox{flex:1 1 560px;max-width:min(92vh,1100px)}.boardbox svg{width:100%;height:auto;display:block}
.side{flex:0 1 340px;min-width:260px}
.controls{display:flex;gap:6px;align-items:center;margin:8px 0;flex-wrap:wrap}
.controls button{font:inherit;padding:4px 10px;border:1px solid #998;border-radius:4px;background:#fff;cursor:pointer}
#slider{flex:1;min-width:120px}#counter{font-variant-numeric:tabular-nums;min-width:90px}
#last-move{font-weight:600}#phase{color:#555}
table{border-collapse:collapse;margin:6px 0}td,th{padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left;white-space:nowrap}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px;vertical-align:-1px;border:1px solid #333}
#moves{position:relative;max-height:46vh;overflow:auto;margin:0;padding:0 0 0 44px;border:1px solid #ddd;background:#fff;font-size:13px}
#moves li{cursor:pointer;padding:1px 4px}#moves li:hover{background:#f0ecdf}#moves li.current{background:#ffe36e}
.error{background:#fde2e1;border:1px solid #c33;padding:6px 10px;margin:6px 0}
.legend{font-size:12px;color:#444}.legend svg{vertical-align:middle}kbd{border:1px solid #aaa;border-radius:3px;padding:0 3px}
"""


def _title(record: dict[str, Any], rep: Replay) -> tuple[str, str]:
    gid = str(record.get("id") or "game")
    winner = record.get("winner")
    result = f"winner P{winner}" if winner else "no winner"
    if record.get("outcome"):
        result += f" ({record['outcome']})"
    engines = ", ".join(f"P{p.get('playerNumber', i + 1)} {p.get('aiType') or p.get('username') or '?'}"
                        for i, p in enumerate(record.get("players") or []))
    pipe = (record.get("metadata") or {}).get("pipeline") or {}
    extra = f" · iteration {pipe['iteration']}" if pipe.get("iteration") is not None else ""
    meta = (f"{rep.board} · {rep.players} players · {len(rep.moves)} moves · {result}{extra}"
            + (f" · {engines}" if engines else ""))
    return gid, meta


def _legend(players: int, is_hex: bool) -> str:
    def icon(value: str) -> str:
        return (f'<svg width="26" height="26" viewBox="-22 -22 44 44"><rect x="-22" y="-22" width="44" height="44" '
                f'fill="#f3ead8"/>{content_svg(value, is_hex)}</svg>')
    seats = " ".join(f'<span class="swatch" style="background:{PLAYER_COLOURS[p]}"></span>P{p}'
                     for p in range(1, players + 1))
    return (f'<p class="legend">{seats}<br>{icon("s12")} stack (rings bottom to top; the top ring controls it, '
            f'the number is its height) {icon("m1")} marker {icon("c1")} collapsed space = territory of its owner'
            f'<br>Keys: <kbd>&larr;</kbd> <kbd>&rarr;</kbd> step, <kbd>Home</kbd> <kbd>End</kbd>, '
            f'<kbd>PgUp</kbd> <kbd>PgDn</kbd> ten moves, <kbd>Space</kbd> play</p>')


def game_page(record: dict[str, Any], *, start: str = "start") -> str:
    """The viewer page of one game record (raises StateFormatError for a record that is not a game)."""
    rep = replay_frames(record)
    values = sorted({v for v in rep.initial} | {v for d in rep.diffs for _, v in d})
    ids = {v: i for i, v in enumerate(values)}
    lay = layout(rep.board)
    data = {"initial": [ids[v] for v in rep.initial], "diffs": [[[c, ids[v]] for c, v in d] for d in rep.diffs],
            "snippets": [content_svg(v, lay.is_hex) for v in values], "moves": rep.moves,
            "highlights": rep.highlights, "status": rep.status, "start": start,
            "colours": [PLAYER_COLOURS[p] for p in range(1, rep.players + 1)]}
    # JSON inside <script> must not close the element early
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    gid, meta = _title(record, rep)
    moves = "".join(f'<li id="m{k + 1}" data-k="{k + 1}" style="color:{PLAYER_COLOURS.get(p, "#222")}">'
                    f'<span style="color:#222">{escape(text)}</span></li>'
                    for k, (text, p) in enumerate(zip(rep.moves, rep.movers)))
    error = f'<p class="error" id="replay-error">{escape(rep.error)}</p>' if rep.error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(gid)} · RingRift game</title><style>{CSS}{STYLE}</style></head>
<body data-board="{rep.board}" data-players="{rep.players}" data-moves="{len(rep.moves)}">
<h1>{escape(gid)}</h1><p class="meta" id="meta">{escape(meta)}</p>{error}
<div class="wrap"><div class="boardbox">{board_svg(rep.board, coords=True)}</div>
<div class="side">
<div class="controls"><button id="first" title="first (Home)">|&#x25C0;</button><button id="prev" title="back (Left)">&#x25C0;</button>
<button id="play" title="play / pause (Space)">Play</button><button id="next" title="forward (Right)">&#x25B6;</button>
<button id="last" title="last (End)">&#x25B6;|</button><span id="counter"></span></div>
<input id="slider" type="range" min="0" value="0" aria-label="move">
<p><span id="last-move"></span><br><span id="phase"></span></p>
<table><thead><tr><th>seat</th><th>in hand</th><th>on board</th><th>eliminated</th><th>territory</th></tr></thead>
<tbody id="scores"></tbody></table>
{_legend(rep.players, lay.is_hex)}
<ol id="moves">{moves}</ol></div></div>
<script type="application/json" id="game-data">{blob}</script>
<script>{SCRIPT}</script>
</body></html>
"""
