"""Can the policy's visual tokens tell door colours apart? A linear probe against the policy, on doors in front.

Look-first policies trained with doors named state first named the door in front right in about one step of ten,
mostly "closed yellow door" whatever its colour, though this probe read the colour in 98 % of held-out scenes;
named colour first ("red door (closed)", as now), 74 % (EXPERIMENTS.md "Look first"). This separates seeing from
naming: on "What is in front of you?" questions whose answer is a door (`viragent screens --world babyai`), a linear
classifier fitted on the visual tokens alone (examples/babyai_image_probe.py's) predicts the door's colour, and the
policy answers the question greedily.
Scenes are split by picture, so no held-out picture was seen by the probe.

    viragent screens --world babyai --samples 20000 --image last --out runs/scene-questions
    python examples/babyai_door_probe.py --policy internvl:DIR --questions runs/scene-questions/babyai_questions_meta.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))  # the sibling example whose probe this reuses
from babyai_image_probe import print_probe_table, probe_against_policy  # noqa: E402

from viragent.agent.datasets import load_sft
from viragent.agent.grid_questions import COLOURS
from viragent.agent.internvl_policy import InternVLPolicy
from viragent.agent.prompts import LOOK_QUESTION


def door_answer(sample: dict) -> str | None:
    """ "closed red door" (or "red door (closed)") for a front question answered with a door, else None."""
    if f"Task: {LOOK_QUESTION}" not in sample["conversations"][0]["value"]:
        return None
    answer = sample["conversations"][1]["value"].removeprefix('done(answer="').removesuffix('")')
    return answer if "door" in answer.split() else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="internvl:viragent-tiny")
    parser.add_argument("--questions", required=True, help="meta json of `viragent screens --world babyai`")
    parser.add_argument("--heldout-share", type=float, default=0.2)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    doors = [s for s in load_sft(args.questions) if door_answer(s)]
    if not doors:
        raise SystemExit(f"no door-facing front questions in {args.questions}: make it with `viragent screens "
                         "--world babyai`")
    colour = lambda s: next(w for w in door_answer(s).split() if w in COLOURS)  # noqa: E731  ("closed red door")
    split = int(len(doors) * (1 - args.heldout_share))  # the scenes are numbered in order: a split by picture
    train, heldout = doors[:split], doors[split:]
    policy = InternVLPolicy.from_spec(args.policy.removeprefix("internvl:"))
    totals, named, probe_hits = probe_against_policy(policy, train, heldout, colour)
    print(f"{args.policy}: {len(heldout)} held-out door questions (probe fitted on {len(train)}); chance "
          f"{100 * max(totals.values()) / len(heldout):.0f} %")
    table = print_probe_table(totals, named, probe_hits, "colour", "doors", policy="policy names it")
    print(f"{'all':>6} {len(heldout):>6} {100 * sum(named.values()) / len(heldout):>14.0f}% "
          f"{100 * sum(probe_hits.values()) / len(heldout):>7.0f}%")
    return table


if __name__ == "__main__":
    main()
