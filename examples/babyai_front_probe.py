"""Does a policy tell the named object from the others when one stands right in front of it?

Each level starts with the agent beside a random object, facing it (`BabyAIEnv(start="object")`), no history.
BabyAIBot says whether to pick that object up (it is one the mission names) or leave it; the table shows how often
the policy answers `pickup()` in each case. A policy that matches the mission's colour and type to the picture
picks up in the first column and not in the second; one that picks up whatever it faces scores the same in both.

    python examples/babyai_front_probe.py --policy internvl:viragent-tiny [--levels 60] [--seed 300000]
"""

from __future__ import annotations

import argparse
from collections import Counter

from rich.console import Console
from rich.table import Table

from viragent.agent.policies import make_policy
from viragent.environments import Observation, make_env

FAMILIES = ("pickup", "putnext", "pick-up-then-go-to")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="internvl:viragent-tiny")
    parser.add_argument("--levels", type=int, default=60, help="levels per family")
    parser.add_argument("--seed", type=int, default=300000, help="first level seed (away from training and eval)")
    args = parser.parse_args(argv)

    policy = make_policy(args.policy)
    # The env options the checkpoint was trained with (e.g. the egocentric view), as the runner serves it.
    options = getattr(policy, "env_options", {}).get("babyai", {})
    counts: dict[str, Counter] = {}
    for family in FAMILIES:
        env = make_env(f"babyai/{family}", **{**options, "start": "object"})
        policy.reset(env)
        count = counts[family] = Counter()
        for seed in range(args.seed, args.seed + args.levels):
            obs, info = env.reset(seed=seed)
            case = "named" if env.unwrapped.expert_action().type == "pickup" else "other"
            action = policy.act(Observation.from_gym(obs, info), []).action  # parsed: a thought may come first
            count[case] += 1
            count[f"{case} pickup"] += action is not None and action.type == "pickup"
        env.close()

    table = Table(title=f"{args.policy}: pickup() answered in front of an object, {args.levels} levels per family")
    for column in ("family", "the bot picks it up", "policy pickup()", "the bot leaves it", "policy pickup()"):
        table.add_column(column, justify="left" if column == "family" else "right")
    total = Counter()
    for family, count in counts.items():
        total.update(count)
        table.add_row(family, *_cells(count))
    table.add_row("all", *_cells(total))
    Console(width=120).print(table)
    return {family: dict(count) for family, count in {**counts, "all": total}.items()}


def _cells(count: Counter) -> list[str]:
    def rate(case: str) -> str:
        return f"{100 * count[f'{case} pickup'] / count[case]:.0f} %" if count[case] else "–"

    return [str(count["named"]), rate("named"), str(count["other"]), rate("other")]


if __name__ == "__main__":
    main()
