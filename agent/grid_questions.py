"""Generated questions about BabyAI scenes: name the object in front, say whether it is the named one, find one.

Why: the tiny policy reaches objects but picks up whichever it reaches (examples/babyai_failures.py), and the
front probe (examples/babyai_front_probe.py) shows its `pickup()` hardly depends on whether the object in front
is the named one. An expert demonstration holds one such decision per episode; these scenes give the binding of
a mission's words ("the red ball") to the picture a dense signal of its own, as agent/synthetic.py does for
reading a screen. Each scene is a BabyAI level in the egocentric view the policy is served in, the agent moved a
few random steps or put beside an object, and each question is answered with `done(answer=…)`:

- front: "What is in front of you?" -> "red ball", "blue door (closed)", "wall" or "nothing";
- match: "Is the red ball in front of you?" -> "yes" / "no" (half the time the object in front; otherwise one
  that differs in colour or in type only, the confusions a mission's distractors offer);
- where: "Where is the red ball?" -> "2 ahead, 1 left" (cells from the agent) or "not in view".

`text` questions are the match questions without a picture: the prompt says what is in front where the screenshot
would be ("In front of you: red box."), and the answer repeats it before saying yes or no, as a policy trained with
`viragent export --think-front` names what it faces before acting. They let the LLM learn the comparison cheaply
(no vision tower), before it must learn it through pictures.

No library generates these; the scenes and the answers come from minigrid's own grid. The output is the same
InternVL SFT jsonl + meta as `viragent export` and `viragent screens`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image

from viragent.environments.embodied.babyai import CARRIABLE, FAMILIES, BabyAIEnv, describe, grid_object
from viragent.tools import Done, InternVLCodec

from .prompts import LOOK_QUESTION, SEEN_LINE, user_prompt

COLOURS = ("red", "green", "blue", "purple", "yellow", "grey")  # minigrid's COLOR_NAMES
_CODEC = InternVLCodec()


def name_of(cell) -> str:
    """How a mission names an object: its colour and type, a door's state left out."""
    return f"{cell.color} {cell.type}"


def near_miss(cell, rng: random.Random) -> str:
    """An object name that differs from `cell`'s in colour or in type only."""
    if cell.type != "door" and rng.random() < 0.5:
        return f"{cell.color} {rng.choice([t for t in CARRIABLE if t != cell.type])}"
    return f"{rng.choice([c for c in COLOURS if c != cell.color])} {cell.type}"


def is_object(cell) -> bool:
    """A ball, box, key or door: what a mission can name."""
    return cell is not None and (cell.type in CARRIABLE or cell.type == "door")


def is_it_in_front(front, rng: random.Random) -> tuple[str, str]:
    """A match question about the object in front: half the time its own name ("yes"), else a near miss ("no")."""
    if rng.random() < 0.5:
        return f"Is the {name_of(front)} in front of you?", "yes"
    return f"Is the {near_miss(front, rng)} in front of you?", "no"


def visible_objects(env: BabyAIEnv) -> dict[str, list[tuple[int, int]]]:
    """Each named object the egocentric frame shows -> its cells as (ahead, right) of the agent."""
    grid, shown = env.level.gen_obs_grid()
    agent_i, agent_j = env.level.agent_view_size // 2, env.level.agent_view_size - 1
    seen: dict[str, list[tuple[int, int]]] = {}
    for j in range(grid.height):
        for i in range(grid.width):
            cell = grid.get(i, j)
            if shown[i, j] and is_object(cell):
                seen.setdefault(name_of(cell), []).append((agent_j - j, i - agent_i))
    return seen


def where(ahead: int, right: int) -> str:
    parts = [f"{ahead} ahead"] if ahead else []
    if right:
        parts.append(f"{abs(right)} {'right' if right > 0 else 'left'}")
    return ", ".join(parts) or "here"


def ask(env: BabyAIEnv, rng: random.Random) -> tuple[str, str]:
    """(question, answer) about the env's current frame."""
    grid, _ = env.level.gen_obs_grid()
    size = env.level.agent_view_size
    front = grid.get(size // 2, size - 2)
    objects = [c for c in env.level.grid.grid if is_object(c)]
    roll = rng.random()
    if roll < 0.3 or not objects:
        return LOOK_QUESTION, describe(front)
    if roll < 0.65 and is_object(front):
        return is_it_in_front(front, rng)
    if roll < 0.65 and rng.random() < 0.3:  # some "no" with nothing worth picking up in front
        return f"Is the {name_of(rng.choice(objects))} in front of you?", "no"
    seen = visible_objects(env)
    unique = {name: cells[0] for name, cells in seen.items() if len(cells) == 1}
    if unique and rng.random() < 0.7:
        name = rng.choice(sorted(unique))
        return f"Where is the {name}?", where(*unique[name])
    unseen = [name_of(c) for c in objects if name_of(c) not in seen]
    name = rng.choice(unseen) if unseen and rng.random() < 0.5 else near_miss(rng.choice(objects), rng)
    if name in seen:
        return LOOK_QUESTION, describe(front)
    return f"Where is the {name}?", "not in view"


def grid_scenes(n: int, seed: int = 500000, questions_per_scene: int = 2, asker=None):
    """Yield (scene index, family, frame, [(question, answer), …]) until N questions are asked. Scene k is family
    k mod 5 at level seed `seed + k`, beside an object (60 %) or from the level's start and up to six random moves;
    `questions_per_scene` questions share its frame. `asker(env, rng)` replaces `ask` (the scenes stay the same)."""
    asker = asker or ask
    rng = random.Random(seed)
    families = sorted(FAMILIES)
    envs = {(family, start): BabyAIEnv(family, view="agent", start=start)
            for family in families for start in ("level", "object")}
    asked, scene = 0, 0
    while asked < n:
        family = families[scene % len(families)]
        start = "object" if rng.random() < 0.6 else "level"
        env = envs[family, start]
        env.reset(seed=seed + scene)
        for _ in range(rng.randint(0, 6) if start == "level" else 0):
            env.level.step(rng.choice((0, 1, 2)))  # turn left, turn right, forward: nothing is picked up
        frame = env.render()
        questions = [asker(env, rng) for _ in range(min(questions_per_scene, n - asked))]
        yield scene, family, frame, questions
        asked, scene = asked + len(questions), scene + 1


def generate_grid_questions(out: str | Path, n: int, seed: int = 500000, name: str = "babyai_questions",
                            questions_per_scene: int = 2, image_position: str = "last") -> dict:
    """Write N questions (grid_scenes) as OUT/scenes/*.png + OUT/NAME.jsonl + OUT/NAME_meta.json (InternVL SFT)."""
    out = Path(out)
    (out / "scenes").mkdir(parents=True, exist_ok=True)
    jsonl, written = out / f"{name}.jsonl", 0
    with jsonl.open("w", encoding="utf-8") as f:
        for scene, family, frame, questions in grid_scenes(n, seed, questions_per_scene):
            path = out / "scenes" / f"{scene:06d}.png"
            Image.fromarray(frame).save(path, optimize=False, compress_level=1)
            for question, answer in questions:
                prompt = user_prompt(question, [], image=image_position)
                f.write(json.dumps({"id": f"babyai_questions/{written}", "image": str(path.resolve()),
                                    "conversations": [{"from": "human", "value": prompt},
                                                      {"from": "gpt", "value": _CODEC.encode(Done(answer=answer))}],
                                    "env_id": f"generated/babyai/{family}"}) + "\n")
                written += 1
    return _write_meta(out, name, jsonl, n, env_options={"babyai": {"view": "agent"}})  # how the scenes were drawn


def random_object(rng: random.Random):
    """A ball, box or key, or one time in four a door (open or closed), of a random colour."""
    kind = "door" if rng.random() < 0.25 else rng.choice(CARRIABLE)
    colour = rng.choice(COLOURS)
    return grid_object(kind, colour, rng.choice((0, 1)))


def text_match_question(rng: random.Random) -> tuple[str, str, str]:
    """(prompt, answer, what is in front) of a match question without a scene: a random object in front, half the
    time asked by its own name, else by a near miss."""
    front = random_object(rng)
    question, answer = is_it_in_front(front, rng)
    seen = describe(front)
    prompt = user_prompt(question, [], image="last").replace("<image>", f"{SEEN_LINE}{seen}.")
    return prompt, f"In front: {seen}. {_CODEC.encode(Done(answer=answer))}", seen


def generate_text_questions(out: str | Path, n: int, seed: int = 900000, name: str = "text_questions") -> dict:
    """Write N pure-text match questions (no "image" key) as OUT/NAME.jsonl + OUT/NAME_meta.json (InternVL SFT)."""
    out, rng = Path(out), random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / f"{name}.jsonl"
    with jsonl.open("w", encoding="utf-8") as f:
        for k in range(n):
            prompt, answer, _ = text_match_question(rng)
            f.write(json.dumps({"id": f"{name}/{k}", "conversations": [{"from": "human", "value": prompt},
                                                                     {"from": "gpt", "value": answer}]}) + "\n")
    return _write_meta(out, name, jsonl, n)


def _write_meta(out: Path, name: str, jsonl: Path, n: int, **extra) -> dict:
    """OUT/NAME_meta.json for one dataset (InternVL's meta format); returns its entry."""
    meta = {name: {"root": "/", "annotation": str(jsonl.resolve()), "data_augment": False, "repeat_time": 1,
                   "length": n, **extra}}
    (out / f"{name}_meta.json").write_text(json.dumps(meta, indent=2))
    return meta[name]
