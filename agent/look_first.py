"""Extra training samples for a look-first policy (export --look-first): the question it asks itself, and copies
of its decisions about the object in front with the words changed.

Why the copies: a look-first policy names the object in front right (75 % of the steps facing one,
examples/EXPERIMENTS.md "Look first"), but its "match" word said "yes" to whatever object it faced: the
demonstrations hold under 3,000 such decisions, and the tiny model learns to compare two names only from many more
(examples/EXPERIMENTS.md "Say what is in front").
- `other_fronts` (--look-texts): a real step's mission and history with another object in the prompt's "In front
  of you:" line, no picture (none would show that object), so they train at text speed;
- `other_missions` (--look-missions): the step's own screen and front, the mission's target changed, so one
  picture gets both answers and the match word cannot come from the picture.
Either way the mission's target decides the answer: an object it names -> "match: yes" and the move that acts on
it; any other -> "match: no" and a turn, as the expert mostly does when it faces the wrong object.
"""

from __future__ import annotations

import random
from pathlib import Path

from viragent.environments.embodied.babyai import CARRIABLE, door_state, object_words
from viragent.tools import Done, InternVLCodec

from .grid_questions import COLOURS
from .prompts import LOOK_QUESTION, user_prompt

_CODEC = InternVLCodec()
ACTING_VERBS = ("pick up", "put", "open")  # a first part that acts on the object it names, when facing it


def look_sample(run_id: str, step: dict, image: Path, position: str) -> dict:
    """The question a look-first policy asks itself about this screen, answered with what the step recorded."""
    return {"id": f"{run_id}/{step['episode_id']}/{step['step']}/look", "image": str(image.resolve()),
            "conversations": [{"from": "human", "value": user_prompt(LOOK_QUESTION, [], image=position)},
                              {"from": "gpt", "value": _CODEC.encode(Done(answer=step["front"]))}],
            "env_id": step["env_id"]}


def matches(target: str, front: str) -> bool:
    """Whether the object described as `front` ("red door (closed)") is one the words `target` ("red door",
    "door", "ball") name: every word of the target is in it."""
    return set(target.split()) <= set(front.split())


def acting_phrase(instruction: str, target: str) -> str | None:
    """The words before `target` where the mission acts on it ("pick up the ", "put a ", "open the "), or None when
    it does not (a go-to, a put's second object): facing its target, the mission's next move then picks it up or
    toggles it."""
    return next((f"{verb} {article} " for verb in ACTING_VERBS for article in ("the", "a")
                 if f"{verb} {article} {target}" in instruction), None)


def acts_on_target(instruction: str, target: str) -> bool:
    """Whether, facing its target, the mission's next move acts on it (pick up, toggle)."""
    return acting_phrase(instruction, target) is not None


def decision(target: str, match: bool, door: bool, rng: random.Random) -> str:
    """The answer a copy trains: the target, the match word, and the move: on a match, the one that acts on the
    object (toggle a door, pick up the rest); else a turn, as the expert mostly makes facing the wrong object."""
    if match:
        return f"Target: {target}, match: yes. {'toggle()' if door else 'pickup()'}"
    return f"Target: {target}, match: no. {rng.choice(('turn_left()', 'turn_right()'))}"


def object_named(target: str, rng: random.Random) -> str:
    """An object `target` names, the missing colour or type drawn at random; doors closed."""
    words = target.split()
    colour = next((w for w in words if w in COLOURS), rng.choice(COLOURS))
    kind = words[-1] if words[-1] in (*CARRIABLE, "door") else rng.choice(CARRIABLE)
    return f"{colour} door (closed)" if kind == "door" else f"{colour} {kind}"


def object_not_named(target: str, rng: random.Random) -> str:
    """An object `target` does not name; half the time one word away from one it names (the confusions a mission's
    distractors offer)."""
    while True:
        named = object_named(target, rng)
        colour, kind = object_words(named).split()
        if rng.random() < 0.5:  # another colour or another type than a named one
            if rng.random() < 0.5:
                front = named.replace(colour, rng.choice(COLOURS), 1)
            else:
                front = f"{colour} {rng.choice(CARRIABLE)}"
        else:
            kind = rng.choice((*CARRIABLE, "door"))
            if kind == "door":
                state = rng.choice(("closed", "open"))  # drawn before the colour, as when the state came first
                front = f"{rng.choice(COLOURS)} door ({state})"
            else:
                front = f"{rng.choice(COLOURS)} {kind}"
        if not matches(target, front):
            return front


def other_fronts(run_id: str, step: dict, prompt_args: dict, n: int, rng: random.Random) -> list[dict]:
    """N text-only copies of a step that faces an object, each with another object in front (module docstring).
    `prompt_args`: the instruction, history, image position (and what the agent holds, if the prompt says it) the
    step's own prompt was written with."""
    target = step.get("target")
    if not target or step.get("on_target") is None:
        return []
    can_say_yes = acts_on_target(prompt_args["instruction"], target)
    copies = []
    for k in range(n):
        if can_say_yes and rng.random() < 0.5:
            front = object_named(target, rng)
            answer = decision(target, True, object_words(front).endswith("door"), rng)
        else:
            front = object_not_named(target, rng)
            answer = decision(target, False, False, rng)
        prompt = user_prompt(prompt_args["instruction"], prompt_args["history"], image=prompt_args["image"],
                             seen=front, carrying=prompt_args.get("carrying")).replace("<image>\n", "")
        copies.append({"id": f"{run_id}/{step['episode_id']}/{step['step']}/front{k + 1}",
                       "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}],
                       "env_id": f"generated/text/{step['env_id']}"})
    return copies


def other_missions(run_id: str, step: dict, prompt_args: dict, image: Path, n: int, rng: random.Random) -> list[dict]:
    """N copies of a step that faces an object, with its screen and its true "In front of you:" line, and the
    mission's target changed: half the time to the object in front ("match: yes" and the move that acts on it),
    else to one it is not. The same picture then gets both answers, so the match word cannot come from the picture
    alone (with --look-texts only, the policy still said "yes" to whatever it faced: examples/EXPERIMENTS.md "Look
    first")."""
    target, front = step.get("target"), step.get("front") or ""
    instruction = prompt_args["instruction"]
    acting = acting_phrase(instruction, target) if target else None
    kinds = () if acting is None else ("door",) if acting.startswith("open") else CARRIABLE
    name = object_words(front)  # "red door (closed)" -> "red door"
    if step.get("on_target") is None or name.split()[-1] not in kinds or door_state(front) in ("open", "locked"):
        return []  # only an object this verb can act on: a ball, box or key to pick up, a closed door to open
    copies = []
    for k in range(n):
        new = name
        if rng.random() >= 0.5:  # another object of a kind the verb takes
            while new == name or new.split()[-1] not in kinds:
                new = object_words(object_not_named(name, rng))
        answer = decision(new, new == name, kinds == ("door",), rng)
        mission = instruction.replace(acting + target, acting + new, 1)
        prompt = user_prompt(mission, prompt_args["history"], image=prompt_args["image"], seen=front,
                             carrying=prompt_args.get("carrying"))
        copies.append({"id": f"{run_id}/{step['episode_id']}/{step['step']}/mission{k + 1}",
                       "image": str(image.resolve()),
                       "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}],
                       "env_id": step["env_id"]})
    return copies
