"""Does a look-first policy's "match" word follow the mission's target, given what is in front as text?

Text-only questions built like `export --look-texts` (agent/look_first.other_fronts) from the steps of a BabyAI
run that face an object: the step's own mission and history, another object in the prompt's "In front of you:"
line. Use an evaluation run (held-out seeds), so none of the questions was trained on. Prints how often the policy
says the right match word, for "yes" and "no" apart (a policy that always says "yes" scores 100 % / 0 %).

    python examples/look_match_probe.py runs/lf/eval-babyai-a/runs_lf_instruct_final/babyai/run \\
        --policy internvl:runs/lf/instruct/final --questions 400
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter

from viragent.agent import load_run
from viragent.agent.internvl_policy import InternVLPolicy
from viragent.agent.look_first import other_fronts

MATCH = re.compile(r"match: (yes|no)")


def questions(run_dir: str, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """(prompt, the right match word) for N copies of the run's steps that face an object, one per step."""
    run, rng = load_run(run_dir), random.Random(seed)
    steps = sorted(run.steps.to_pylist(), key=lambda s: (s["episode_id"], s["step"]))
    history: dict[str, list[str]] = {}
    out = []
    for step in steps:
        shown = history.setdefault(step["episode_id"], [])[-8:]
        for copy in other_fronts("probe", step, {"instruction": step["instruction"], "history": shown,
                                                 "image": "last"}, 1, rng):
            prompt, answer = (turn["value"] for turn in copy["conversations"])
            out.append((prompt, MATCH.search(answer).group(1)))
        history[step["episode_id"]].append(step["action_text"] or "")
    rng.shuffle(out)
    return out[:n]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--policy", required=True)
    parser.add_argument("--questions", type=int, default=400)
    args = parser.parse_args(argv)
    policy = InternVLPolicy.from_spec(args.policy.removeprefix("internvl:"))
    asked, tally = questions(args.run, args.questions), Counter()
    for start in range(0, len(asked), 32):
        batch = asked[start:start + 32]
        gens = policy.engine.generate([None] * len(batch), [p for p, _ in batch], max_new_tokens=24)
        for (_, right), gen in zip(batch, gens):
            said = MATCH.search(gen.text)
            tally[right, said.group(1) if said else "none"] += 1
    for right in ("yes", "no"):
        answered = {said: v for (r, said), v in tally.items() if r == right}
        print(f'"{right}" right: {tally[right, right]} of {sum(answered.values())} (answered {answered})')
    total = sum(tally.values())
    print(f"all: {(tally['yes', 'yes'] + tally['no', 'no']) / max(1, total):.0%} of {total}")


if __name__ == "__main__":
    main()
