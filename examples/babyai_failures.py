"""Why a policy's BabyAI episodes fail: replay a run and see what it picked up, and whether it ended in a loop.

Each episode of the run is replayed with its seed and its logged actions. The levels are deterministic, so the
replay passes through the states the policy saw. For the families that pick something up (pickup, putnext,
pick-up-then-go-to) it reports:
- whether the first object picked up is one the mission names;
- how many pickups came while already carrying something;
- how many drops came with empty hands;
- how many times it took the named object, or another, into its hands, and how many of those times its very next
  action dropped it again. In putnext the expert never drops the named object at once (it carries it to the other
  object): a policy that drops the named object as often as any other does not know whether it holds the right one.
  (In pick-up-then-go-to the expert, too, puts the named object down once it is picked up: that pickup is done.)
It also checks that every replay ends as the log says; a mismatch means the run is not this version's levels.
For every family it counts the episodes whose last 32 actions are one cycle of at most 8 actions repeated: a
greedy policy that sees the same view after the same last actions does the same again until the step limit.

    viragent eval --policy internvl:viragent-tiny --suite babyai --episodes 50 --out runs/eval
    python examples/babyai_failures.py runs/eval/viragent-tiny/babyai/run
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict

from rich.console import Console
from rich.table import Table

from viragent.agent import load_run
from viragent.environments import make_env
from viragent.environments.embodied.babyai import current_target

PICKING_FAMILIES = ("pickup", "putnext", "pick-up-then-go-to")


def replay(env, seed: int, actions: list[dict]) -> dict:
    """One episode again: what it picked up first, its pickups while carrying, drops with empty hands."""
    env.reset(seed=seed)
    level = env.unwrapped.level
    # At the start, what the mission asks for first is the object to pick up (the verifier's obj_set).
    targets, first, counts, success = current_target(level)[1], None, Counter(), False
    taken = None  # "named"/"another": what the last action took into the agent's hands
    for action in actions:
        carried = level.carrying
        if action["type"] == "pickup" and carried is not None:
            counts["pickup while carrying"] += 1
        if action["type"] == "drop" and carried is None:
            counts["drop with empty hands"] += 1
        if taken and action["type"] == "drop":
            counts[f"{taken} dropped at once"] += 1
        _, _, terminated, _, info = env.step(action)
        taken = None
        if carried is None and level.carrying is not None:
            taken = "named" if any(level.carrying is obj for obj in targets) else "another"
            counts[f"{taken} picked up"] += 1
            first = first or taken
        success = success or (terminated and info["success"])
    return {"first": first or "nothing", "counts": counts, "success": success}


def ends_in_loop(actions: list[str], window: int = 32, max_period: int = 8) -> bool:
    """The last `window` actions repeat with a period of at most `max_period` (e.g. left, forward, left, …)."""
    tail = actions[-window:]
    return len(tail) == window and any(all(tail[i] == tail[i + period] for i in range(window - period))
                                       for period in range(1, max_period + 1))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run directory (viragent run / eval / collect) with BabyAI episodes")
    args = parser.parse_args(argv)

    run = load_run(args.run)
    actions = defaultdict(list)
    for step in sorted(run.steps.to_pylist(), key=lambda s: (s["episode_id"], s["step"])):
        if step["action"] is not None:  # an answer that did not parse was not executed: the level did not move
            actions[step["episode_id"]].append(json.loads(step["action"]))
    envs, table = {}, {}
    for episode in run.episodes.to_pylist():
        family = episode["env_id"].removeprefix("babyai/")
        row = table.setdefault(f"{family} {'success' if episode['success'] else 'failure'}", Counter())
        row["episodes"] += 1
        row["ends in a loop"] += ends_in_loop([json.dumps(a, sort_keys=True) for a in actions[episode["episode_id"]]])
        if family not in PICKING_FAMILIES:
            continue
        # The run's own env options: a start=object collection starts elsewhere than the level does.
        env = envs.setdefault(family, make_env(episode["env_id"], **run.manifest["config"].get("env_kwargs", {})))
        result = replay(env, episode["seed"], actions[episode["episode_id"]])
        if result["success"] != episode["success"]:
            raise SystemExit(f"episode {episode['episode_id']} ({episode['env_id']}, seed {episode['seed']}) "
                             f"replays to success={result['success']} but was logged {episode['success']}: the "
                             "run was made with other levels (another minigrid version?); replay cannot explain it")
        row[f"first pickup: {result['first']}"] += 1
        row.update(result["counts"])

    picking = ["first pickup: named", "first pickup: another", "first pickup: nothing", "pickup while carrying",
               "drop with empty hands", "named picked up", "named dropped at once", "another picked up",
               "another dropped at once"]
    columns = ["episodes", "ends in a loop", *picking]
    view = Table(title=f"BabyAI episodes replayed from {args.run}")
    view.add_column("family, outcome")
    for column in columns:
        view.add_column(column, justify="right")
    for key in sorted(table):
        picks = key.rsplit(" ", 1)[0] in PICKING_FAMILIES  # the other families pick nothing up: no pickup columns
        view.add_row(key, *(str(table[key][c]) if picks or c not in picking else "–" for c in columns))
    Console().print(view)
    return {key: dict(row) for key, row in table.items()}


if __name__ == "__main__":
    main()
