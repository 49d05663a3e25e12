"""Collection and evaluation over whole suites, with seed ranges kept apart.

Training data comes from seeds >= TRAIN_SEED_START (`collect`); evaluation uses seeds from 0 (`evaluate`), so
the two never overlap unless a user asks for it. `evaluate` writes its table as markdown and JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from viragent.environments import SUITES, parse_env_id

from .runner import RunConfig, RunResult, run_episodes
from .summary import summary_table

TRAIN_SEED_START = 100_000
EVAL_SEED_START = 0


def suite_env_ids(suite: str, tasks: list[str] | None = None) -> list[str]:
    """Every task of `suite` that has an expert (or the named ones), as env ids."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; available: {sorted(SUITES)}")
    chosen = tasks or SUITES[suite].expert_tasks()
    ids = [f"{suite}/{t}" for t in chosen]
    for env_id in ids:
        parse_env_id(env_id)
    return ids


def collect(suite: str, episodes: int, out: str | Path, seed: int = TRAIN_SEED_START, tasks: list[str] | None = None,
            max_steps: int = 30, console: Console | None = None, show_progress: bool = True) -> RunResult:
    """Expert demonstrations: `episodes` per task on seeds seed .. seed+episodes-1 (recorded in the manifest)."""
    config = RunConfig(env_ids=suite_env_ids(suite, tasks), policy="expert", episodes=episodes, seed=seed,
                       out=Path(out), max_steps=max_steps)
    return run_episodes(config, console=console, show_progress=show_progress)


def evaluate(policy_spec: str, env_ids: list[str], episodes: int, out: str | Path, seed: int = EVAL_SEED_START,
             max_steps: int = 30, policy=None, console: Console | None = None, show_progress: bool = True) -> dict:
    """Success per env on held-out seeds; writes OUT/eval.md and OUT/eval.json."""
    console = console or Console()
    out = Path(out)
    config = RunConfig(env_ids=env_ids, policy=policy_spec, episodes=episodes, seed=seed, out=out / "run",
                       max_steps=max_steps)
    result = run_episodes(config, console=console, show_progress=show_progress, policy=policy)
    table = {"policy": policy_spec, "seeds": [seed, seed + episodes - 1], "episodes_per_env": episodes,
             "rows": result.rows}
    lines = [f"| env | success | episodes | mean steps |", "|---|---:|---:|---:|"]
    lines += [f"| {r['env']} | {100 * r['success']:.1f} % | {r['episodes']} | {r['mean_steps']:.2f} |" for r in result.rows]
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.md").write_text(f"Policy `{policy_spec}`, seeds {seed}..{seed + episodes - 1}\n\n" + "\n".join(lines) + "\n")
    (out / "eval.json").write_text(json.dumps(table, indent=2))
    console.print(summary_table(result.rows, title=f"eval {policy_spec}"))
    return table
