"""Does a policy answer questions about BabyAI scenes it has not seen? The held-out counterpart of the recipe's
GRID_QUESTIONS data (agent/grid_questions.py): the same three kinds of question on other level seeds.

A policy trained with GRID_QUESTIONS shows here whether it learned to name the object in front, tell the named
one from a near miss and find it; one trained without them is the floor (it answers with moves). The step from
these answers to the right `pickup()` is what examples/babyai_front_probe.py measures.

    python examples/babyai_question_probe.py --policy internvl:runs/tiny-policy/instruct/final [--questions 300]
"""

from __future__ import annotations

import argparse
from collections import Counter

from rich.console import Console
from rich.table import Table

from viragent.agent.grid_questions import grid_scenes
from viragent.agent.policies import make_policy
from viragent.environments import Observation
from viragent.tools import Done

KINDS = {"What is": "front: name the object in front", "Is the": "match: is the named one in front",
         "Where is": "where: find the named one"}


def score(policy, questions: int, seed: int) -> Counter:
    """Per kind of question: how many were asked and answered right (the parsed `done(answer=…)`); match questions also split by yes / no."""
    counts: Counter = Counter()
    for _, _, frame, asked in grid_scenes(questions, seed=seed, questions_per_scene=1):
        for question, truth in asked:
            # Parsed as the agent loop parses it, so an answer may follow a thought ("In front: red ball. done(…)").
            action = policy.act(Observation(screenshot=frame, instruction=question), []).action
            right = isinstance(action, Done) and action.answer == truth
            kind = KINDS[" ".join(question.split()[:2])]
            counts[kind] += 1
            counts[f"{kind} right"] += right
            if truth in ("yes", "no"):
                counts[f"{kind} {truth}"] += 1
                counts[f"{kind} {truth} right"] += right
    return counts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="internvl:viragent-tiny")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=600000, help="first level seed (the recipe's are 500000 on)")
    args = parser.parse_args(argv)
    counts = score(make_policy(args.policy), args.questions, args.seed)

    table = Table(title=f"{args.policy}: {args.questions} held-out questions (level seeds from {args.seed})")
    for column in ("question", "asked", "answered right"):
        table.add_column(column, justify="left" if column == "question" else "right")
    rows = [*KINDS.values(), f"{KINDS['Is the']} yes", f"{KINDS['Is the']} no"]
    for kind in rows:
        if counts[kind]:
            table.add_row(kind, str(counts[kind]), f"{100 * counts[f'{kind} right'] / counts[kind]:.0f} %")
    Console(width=120).print(table)
    return {kind: (counts[kind], counts[f"{kind} right"]) for kind in rows}


if __name__ == "__main__":
    main()
