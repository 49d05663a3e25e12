"""Does a policy answer questions about BabyAI scenes it has not seen? The held-out counterpart of the recipe's
GRID_QUESTIONS data (agent/grid_questions.py): the same three kinds of question on other level seeds.

A policy trained with GRID_QUESTIONS shows here whether it learned to name the object in front, tell the named
one from a near miss and find it; one trained without them is the floor (it answers with moves). The step from
these answers to the right `pickup()` is what examples/babyai_front_probe.py measures.

    python examples/babyai_question_probe.py --policy internvl:runs/tiny-policy/instruct/final [--questions 300]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections import Counter

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

from viragent.agent.grid_questions import generate_grid_questions
from viragent.agent.policies import make_policy
from viragent.environments import Observation

KINDS = {"What is": "front: name the object in front", "Is the": "match: is the named one in front",
         "Where is": "where: find the named one"}



def score(policy, questions: int, seed: int) -> Counter:
    """Per kind of question: how many were asked and answered exactly; match questions also split by yes / no."""
    counts: Counter = Counter()
    with tempfile.TemporaryDirectory() as folder:
        meta = generate_grid_questions(folder, questions, seed=seed, questions_per_scene=1)
        for line in open(meta["annotation"]):
            sample = json.loads(line)
            question = re.search(r"Task: (.*)\n", sample["conversations"][0]["value"]).group(1)
            expected = sample["conversations"][1]["value"]
            screenshot = np.asarray(Image.open(sample["image"]).convert("RGB"))
            answer = policy.act(Observation(screenshot=screenshot, instruction=question), []).raw_text.strip()
            kind = KINDS[" ".join(question.split()[:2])]
            counts[kind] += 1
            counts[f"{kind} right"] += answer == expected
            if expected in ('done(answer="yes")', 'done(answer="no")'):
                counts[f"{kind} {expected[13:-2]}"] += 1
                counts[f"{kind} {expected[13:-2]} right"] += answer == expected
    return counts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="internvl:viragent-tiny")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=600000, help="first level seed (the recipe's are 500000 on)")
    args = parser.parse_args(argv)
    counts = score(make_policy(args.policy), args.questions, args.seed)

    table = Table(title=f"{args.policy}: {args.questions} held-out questions (level seeds from {args.seed})")
    for column in ("question", "asked", "answered exactly"):
        table.add_column(column, justify="left" if column == "question" else "right")
    rows = [*KINDS.values(), f"{KINDS['Is the']} yes", f"{KINDS['Is the']} no"]
    for kind in rows:
        if counts[kind]:
            table.add_row(kind, str(counts[kind]), f"{100 * counts[f'{kind} right'] / counts[kind]:.0f} %")
    Console(width=120).print(table)
    return {kind: (counts[kind], counts[f"{kind} right"]) for kind in rows}


if __name__ == "__main__":
    main()
