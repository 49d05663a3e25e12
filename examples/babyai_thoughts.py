"""Does a thinking BabyAI policy say what is true, and does it act on what it says?

A policy trained with `export --think-target` writes "In front: red box. Target: red ball, match: no." before
each action (`--think-front`: "In front: red box." alone). A `--look-first` policy's log reads the same: its own
answer to "What is in front of you?" is written before its action's words. The env logs the truth of each step
beside it (target, front, on_target), so one pass over an eval run tells two failures apart:
- the words are wrong (the target, the front, or the match word, each against the log; "object named right"
  counts only the steps facing an object, where the name decides a pickup);
- the words are right and the action ignores them (pickup or toggle after "match: no").

    viragent eval --policy internvl:runs/tt/instruct/final --suite babyai --episodes 50 --out runs/tt/eval-babyai
    python examples/babyai_thoughts.py runs/tt/eval-babyai/runs_tt_instruct_final/babyai/run
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict

from rich.console import Console
from rich.table import Table

from viragent.agent import load_run
from viragent.environments.embodied.babyai import colour_first, object_words

# What the export writes (agent/datasets.thought_answer), read part by part: the order of the parts changed once
# (the target first, then what is in front: EXPERIMENTS.md "Name the target"), and each part but the front is
# optional.
FRONT, TARGET, MATCH = (re.compile(p) for p in (r"In front: ([^.,]+)", r"Target: ([^.,]+)", r"match: (yes|no)"))
ACTING = ("pickup", "toggle")  # the moves that act on the object in front


def read_thought(raw_text: str) -> dict | None:
    """The policy's words before its action, or None where it wrote none."""
    parts = {name: pattern.search(raw_text or "") for name, pattern in
             (("front", FRONT), ("target", TARGET), ("match", MATCH))}
    if parts["front"] is None:
        return None
    said = {name: found.group(1) if found else None for name, found in parts.items()}
    return {**said, "front": colour_first(said["front"])}  # a door named either way, compared alike


def tally(steps: list[dict]) -> dict[str, Counter]:
    """Per family: how often each word was right, and which moves followed each match word."""
    table: dict[str, Counter] = defaultdict(Counter)
    for step in steps:
        step = {**step, "front": step["front"] and colour_first(step["front"])}  # runs logged before colour first
        row = table[step["env_id"].removeprefix("babyai/")]
        row["steps"] += 1
        move = (step["action_text"] or "").split("(")[0]
        if step["on_target"] is not None:  # the truth, whatever the policy wrote
            row[f"{move} facing {'target' if step['on_target'] else 'other'}"] += move in ACTING
        said = read_thought(step["raw_text"])
        if said is None:
            continue
        row["with a thought"] += 1
        if said["target"] is not None and step["target"] is not None:
            row["target said"] += 1
            row["target right"] += said["target"] == step["target"]
        if step["front"] is not None:
            row["front said"] += 1
            row["front right"] += said["front"] == step["front"]
        if step["on_target"] is not None:
            row["facing an object"] += 1
            row["match right"] += said["match"] == ("yes" if step["on_target"] else "no")
            row["object named right"] += said["front"] == step["front"]
            # a wrong name with the type of the target the policy itself named: the target's words copied
            row["misnamed as the target"] += said["front"] != step["front"] and said["target"] is not None and \
                object_words(said["front"]).split()[-1] == said["target"].split()[-1]
        if said["match"] is not None and move in ACTING:
            row[f"{move} after match: {said['match']}"] += 1
    return table


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="BabyAI run directories whose env logged target and front (this "
                                                 "version); several are read as one (an evaluation split by family)")
    args = parser.parse_args(argv)
    steps = [s for run in args.runs for s in load_run(run).steps.to_pylist() if s["env_id"].startswith("babyai/")]
    if not steps or all(s["target"] is None for s in steps):
        raise SystemExit(f"{', '.join(args.runs)} has no BabyAI steps with a logged target: evaluate again with this "
                         f"version")
    table = tally(steps)
    table["all"] = sum(table.values(), Counter())

    def share(row: Counter, right: str, said: str) -> str:
        return f"{100 * row[right] / row[said]:.0f} % of {row[said]}" if row[said] else "-"

    view = Table(title=f"BabyAI thoughts against the log: {', '.join(args.runs)}")
    for column in ("family", "steps", "with a thought", "target right", "front right", "object named right",
                   "misnamed as the target", "match right",
                   "pickup facing target / other", "pickup after yes / no", "toggle after yes / no"):
        view.add_column(column, justify="left" if column == "family" else "right")
    for family, row in table.items():
        view.add_row(family, str(row["steps"]), str(row["with a thought"]),
                     share(row, "target right", "target said"), share(row, "front right", "front said"),
                     share(row, "object named right", "facing an object"),
                     str(row["misnamed as the target"]),
                     share(row, "match right", "facing an object"),
                     f"{row['pickup facing target']} / {row['pickup facing other']}",
                     f"{row['pickup after match: yes']} / {row['pickup after match: no']}",
                     f"{row['toggle after match: yes']} / {row['toggle after match: no']}")
    Console().print(view)
    return {family: dict(row) for family, row in table.items()}


if __name__ == "__main__":
    main()
