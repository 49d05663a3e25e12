"""The run report: one self-contained HTML page per run, each step's screen with its click drawn on it.

Reads only through `load_run`, so a report can be made for an interrupted run too (`viragent report DIR`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from .summary import summarize
from .trajectory import Episode, load_run

# Failures are always shown open; successes only the first few, so a long run's page stays light.
_OPEN_SUCCESSES = 10

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table.summary { border-collapse: collapse; margin-bottom: 24px; }
table.summary td, table.summary th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
table.summary td:first-child, table.summary th:first-child { text-align: left; }
details { border: 1px solid #ddd; border-radius: 6px; margin: 8px 0; padding: 6px 10px; }
summary { cursor: pointer; font-weight: 600; }
.ok { color: #0a7d28; } .fail { color: #b3261e; }
.steps { display: flex; flex-wrap: wrap; gap: 14px; margin-top: 10px; }
.step { width: 330px; font-size: 12px; }
.shot { position: relative; display: inline-block; border: 1px solid #999; }
.shot img { display: block; width: 320px; image-rendering: pixelated; }
.shot svg { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }
pre { white-space: pre-wrap; word-break: break-word; background: #f6f6f6; padding: 4px; margin: 4px 0; }
.err { color: #b3261e; }
"""


def _marks(action: dict | None) -> str:
    """SVG marks in a 0-100 viewBox: a ring at a click or move, an arrow for a drag."""
    if not action or "x" not in action:
        return ""
    x, y = 100 * action["x"], 100 * action["y"]
    parts = [f'<circle cx="{x:.2f}" cy="{y:.2f}" r="3.2" fill="none" stroke="#e11" stroke-width="0.9"/>',
             f'<circle cx="{x:.2f}" cy="{y:.2f}" r="0.7" fill="#e11"/>']
    if action.get("type") == "drag":
        x2, y2 = 100 * action["x2"], 100 * action["y2"]
        parts.append(f'<line x1="{x:.2f}" y1="{y:.2f}" x2="{x2:.2f}" y2="{y2:.2f}" stroke="#e11" stroke-width="0.8"/>')
    return "".join(parts)


def _step_html(step: dict, screens: str) -> str:
    action = json.loads(step["action"]) if step["action"] else None
    esc = html.escape
    lines = [f'<div class="step"><div class="shot"><img src="{screens}/{esc(step["screenshot"])}" '
             f'alt="step {step["step"]}"><svg viewBox="0 0 100 100" preserveAspectRatio="none">{_marks(action)}</svg></div>',
             f'<div><b>step {step["step"]}</b> · reward {step["reward"]:.2f} · env {step["env_ms"]:.0f} ms · '
             f'policy {step["policy_ms"]:.0f} ms</div>',
             f'<div>action: <code>{esc(step["action_text"] or "—")}</code></div>',
             f'<div>raw text:</div><pre>{esc(step["raw_text"])}</pre>']
    if step["parse_error"]:
        lines.append(f'<div class="err">parse error: {esc(step["parse_error"])}</div>')
    if step["action_error"]:
        lines.append(f'<div class="err">action error: {esc(step["action_error"])}</div>')
    lines.append("</div>")
    return "\n".join(lines)


def render_report(run_dir: str | Path) -> str:
    run = load_run(run_dir)
    episodes = [Episode(**row) for row in run.episodes.to_pylist()]
    rows = summarize(episodes) if episodes else []
    steps_by_episode: dict[int, list[dict]] = {}
    for step in run.steps.to_pylist():
        steps_by_episode.setdefault(step["episode_id"], []).append(step)
    esc = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>viragent run {esc(run.manifest['run_id'])}</title>",
           f"<style>{_STYLE}</style></head><body>",
           f"<h1>Run {esc(run.manifest['run_id'])}</h1>",
           f"<p>policy <b>{esc(str(run.manifest['config'].get('policy')))}</b> · created "
           f"{esc(run.manifest['created'])} · git {esc(str(run.manifest.get('git_sha'))[:10])}</p>",
           "<table class='summary'><tr><th>env</th><th>episodes</th><th>success</th><th>mean steps</th>"
           "<th>env ms/step</th><th>policy ms/step</th><th>errors</th></tr>"]
    for r in rows:
        out.append(f"<tr><td>{esc(r['env'])}</td><td>{r['episodes']}</td><td>{100 * r['success']:.1f} %</td>"
                   f"<td>{r['mean_steps']:.2f}</td><td>{r['env_ms_per_step']:.1f}</td>"
                   f"<td>{r['policy_ms_per_step']:.1f}</td><td>{r['errors']}</td></tr>")
    out.append("</table>")
    if run.unfinished_steps:
        out.append(f"<p class='err'>{len(run.unfinished_steps)} step(s) of an episode in flight when the run "
                   "stopped are in journal.jsonl and not shown.</p>")
    for index, ep in enumerate(episodes):
        is_open = not ep.success or index < _OPEN_SUCCESSES
        verdict = "<span class='ok'>success</span>" if ep.success else "<span class='fail'>failure</span>"
        out.append(f"<details{' open' if is_open else ''}><summary>episode {ep.episode_id} · "
                   f"{esc(ep.env_id)} · seed {ep.seed} · {verdict} · {ep.steps} step{'s' if ep.steps != 1 else ''} · {esc(ep.end_reason)} — "
                   f"{esc(ep.instruction)}</summary><div class='steps'>")
        out.extend(_step_html(s, "screens") for s in steps_by_episode.get(ep.episode_id, []))
        out.append("</div></details>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(run_dir: str | Path) -> Path:
    path = Path(run_dir) / "report.html"
    path.write_text(render_report(run_dir), encoding="utf-8")
    return path
