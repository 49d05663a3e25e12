"""Does a policy's BabyAI answer follow the agent's direction, and how much does its history sway it?

Each of N goto levels is shown four times, with the agent turned to each direction in place; the policy answers
with a given history (none, or K `forward()`s), and BabyAIBot answers the same state. Prints how often the four
answers were all the same (blind to direction) and how often the policy agreed with the bot.

    python examples/babyai_direction_probe.py --policy internvl:viragent-tiny [--forwards 8] [--levels 40]
"""

from __future__ import annotations

import argparse
from collections import Counter

from viragent.agent.policies import make_policy
from viragent.environments import Observation, make_env


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="internvl:viragent-tiny")
    parser.add_argument("--forwards", type=int, default=0, help="history: this many forward() moves")
    parser.add_argument("--levels", type=int, default=40)
    parser.add_argument("--seed", type=int, default=200, help="first level seed (evaluation uses 0-49)")
    args = parser.parse_args(argv)

    policy, env = make_policy(args.policy), make_env("babyai/goto", max_steps=64)
    policy.reset(env)
    history = ["forward()"] * args.forwards
    blind, answers, experts, agree = 0, Counter(), Counter(), 0
    for seed in range(args.seed, args.seed + args.levels):
        _, info = env.reset(seed=seed)
        babyai = env.unwrapped
        outs = []
        for direction in range(4):
            babyai.level.agent_dir = direction
            expert = babyai.replan().type + "()"  # the bot plans afresh for the turned agent
            screen = {"screenshot": babyai.render(), "instruction": babyai.level.mission}
            outs.append(policy.act(Observation.from_gym(screen, info), history).raw_text)
            experts[expert] += 1
            agree += expert == outs[-1]
        answers.update(outs)
        blind += len(set(outs)) == 1
    total = 4 * args.levels
    print(f"{args.policy}, history of {args.forwards} forward(): the same answer for all four directions in "
          f"{blind} of {args.levels} levels; agrees with BabyAIBot on {agree} of {total} states "
          f"({100 * agree / total:.0f} %)")
    print(f"  policy answers: {dict(answers)}")
    print(f"  bot answers:    {dict(experts)}")
    return {"blind": blind, "agree": agree, "states": total}


if __name__ == "__main__":
    main()
