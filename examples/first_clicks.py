"""Where a policy's first MiniWoB click lands against the expert's on the same seed.

A MiniWoB page is drawn from its seed, so the expert's first click on seed S is the right first click of the
policy's episode on seed S. Each of the policy's first clicks is counted as the expert's spot, the expert's row
(within `--row` of its y, another x: it found the line, not the word), or another row (another widget or line).
On click-option a click on another row is another option: the named one was not found.

    E=miniwob/click-option,miniwob/click-link
    viragent eval --policy expert --env $E --episodes 50 --out runs/ex
    viragent eval --policy internvl:viragent-tiny --env $E --episodes 50 --out runs/ev
    python examples/first_clicks.py runs/ex/expert/miniwob/run runs/ev/viragent-tiny/miniwob/run
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from viragent.agent import load_run
from viragent.tools import Click, get_codec


def first_clicks(run_dir: str) -> dict[tuple[str, int], tuple[float, float] | None]:
    """(env id, seed) -> the first step's click in 0-1000 units, None when the first action is not a click."""
    codec, clicks = get_codec("internvl"), {}
    for step in load_run(run_dir).steps.to_pylist():
        if step["step"] == 0:
            action = codec.parse(step["action_text"] or "") if step["action_text"] else None
            clicks[(step["env_id"], step["seed"])] = ((action.x * 1000, action.y * 1000)
                                                     if isinstance(action, Click) else None)
    return clicks


def compare(expert: dict, policy: dict, row: float, column: float) -> dict[str, dict[str, int]]:
    """env id -> counts of the policy's first clicks: spot, row, other row, no click (on seeds both ran)."""
    table: dict[str, dict[str, int]] = {}
    for (env_id, seed), target in sorted(expert.items()):
        if (env_id, seed) not in policy or target is None:
            continue
        counts = table.setdefault(env_id, {"spot": 0, "row": 0, "other row": 0, "no click": 0})
        got = policy[(env_id, seed)]
        if got is None:
            counts["no click"] += 1
        elif abs(got[1] - target[1]) <= row:
            counts["spot" if abs(got[0] - target[0]) <= column else "row"] += 1
        else:
            counts["other row"] += 1
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("expert_run", help="the run dir of the expert's evaluation (OUT/expert/miniwob/run)")
    parser.add_argument("policy_runs", nargs="+", help="run dirs of the policies' evaluations on the same seeds")
    # 40 of 1000 is 8 px of MiniWoB's 210-px height: under half the 18-px spacing of click-option's rows
    parser.add_argument("--row", type=float, default=40, help="same row: |dy| at most this, 0-1000 units")
    parser.add_argument("--column", type=float, default=60, help="same spot: |dx| at most this as well")
    args = parser.parse_args()
    expert = first_clicks(args.expert_run)
    table = Table(title="first clicks against the expert's, same seeds")
    for name in ("env", "policy run", "expert's spot", "expert's row, other x", "another row", "no click"):
        table.add_column(name, justify="left" if name in ("env", "policy run") else "right")
    for run_dir in args.policy_runs:
        for env_id, counts in compare(expert, first_clicks(run_dir), args.row, args.column).items():
            table.add_row(env_id, run_dir, *(str(counts[k]) for k in ("spot", "row", "other row", "no click")))
    Console().print(table)


if __name__ == "__main__":
    main()
