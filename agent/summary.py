"""The numbers a run ends with: success rate, mean steps, per-step timings, for each env and overall."""

from __future__ import annotations

from rich.table import Table

from .trajectory import Episode


def summarize(episodes: list[Episode]) -> list[dict]:
    """Success rate, mean steps and per-step timings, for each env id and for all of them together."""
    groups: dict[str, list[Episode]] = {}
    for ep in episodes:
        groups.setdefault(ep.env_id, []).append(ep)
    if len(groups) > 1:
        groups["all"] = list(episodes)
    rows = []
    for env_id, eps in groups.items():
        n_steps = sum(e.steps for e in eps)
        rows.append({
            "env": env_id, "episodes": len(eps),
            "success": sum(e.success for e in eps) / len(eps),
            "mean_steps": n_steps / len(eps),
            "env_ms_per_step": sum(e.env_ms_mean * e.steps for e in eps) / max(n_steps, 1),
            "policy_ms_per_step": sum(e.policy_ms_mean * e.steps for e in eps) / max(n_steps, 1),
            "errors": sum(e.errors for e in eps),
        })
    return rows


def summary_table(rows: list[dict], title: str = "Run summary") -> Table:
    # Short headers, so the table fits an 80-column terminal next to long env ids.
    table = Table(title=title, caption="steps: mean per episode; env/policy: ms per step")
    for col in ("env", "episodes", "success", "steps", "env", "policy", "errors"):
        table.add_column(col, justify="right", min_width=len(col), no_wrap=True)
    table.columns[0].justify, table.columns[0].no_wrap, table.columns[0].overflow = "left", False, "fold"
    for r in rows:
        table.add_row(r["env"], str(r["episodes"]), f"{100 * r['success']:.1f} %", f"{r['mean_steps']:.2f}",
                      f"{r['env_ms_per_step']:.1f}", f"{r['policy_ms_per_step']:.1f}", str(r["errors"]),
                      style="bold" if r["env"] == "all" else None)
    return table
