"""`viragent bench grounding`: can a policy point at a named widget? Scored on generated screens it never saw.

Success rates in an env mix many skills; this isolates the one the tiny policy lacks. Each screen has 3-9
named widgets (buttons, links, words, check boxes, as `viragent screens` draws them) and asks to click one
by its text. A click inside the target (2 px slack) is a hit; `chance` is what picking a widget at random
would score. `distinct answers` counts different answer texts (a policy that ignores the image varies them
only with the instruction's words).
`content_ratio` (model.inference.VLMEngine.visual_token_stats) says whether the image reaches the LLM at all.
`x_error_px` / `y_error_px` (medians over the clicks) and `x_corr` / `y_corr` (the clicks' correlation with the
targets' centres) say which axis a policy locates: a policy that finds the row but not the column has a small
y error, a large x error and an x correlation near 0.
With `single`, each screen holds one button alone: pointing at it needs sight, not reading.
"""

from __future__ import annotations

import random

import numpy as np

from viragent.environments import Observation
from viragent.tools import Click, InternVLCodec

from .internvl_policy import InternVLPolicy
from .policies import PolicyOutput
from .prompts import user_prompt
from .synthetic import (BUTTON_WORDS, HEIGHT, KIND_NAMES, QUERY_HEIGHT, WIDTH, Widget, blank_screen, draw_widget,
                        draw_query, render_screen, text_regions)
from .synthetic_lists import list_task

NAMED = ("button", "link", "word", "checkbox")


def pointing_task(rng: random.Random, single: bool = False, world: str = "miniwob"):
    """(screen, instruction, target widget, number of named widgets on the screen, the screen's text regions).

    single: one button alone on the screen, so finding it needs no reading, only seeing where it is.
    world "lists": a click-option / click-checkboxes page (agent.synthetic_lists), its first click; every item and
    Submit are the candidates.
    """
    if world == "lists":
        image, instruction, target, candidates, regions = list_task(rng)
        return image, instruction, target, len(candidates), regions
    while True:
        if single:
            image, draw = blank_screen()
            x, y = rng.randint(2, WIDTH - 60), rng.randint(QUERY_HEIGHT + 5, HEIGHT - 25)
            named = widgets = [draw_widget(draw, "button", rng.choice(BUTTON_WORDS), x, y, rng)]
            break
        image, widgets = render_screen(rng)
        named = [w for w in widgets if w.kind in NAMED]
        if named:
            break
    target = rng.choice(named)
    if target.kind == "link":
        instruction = f'Click on the link "{target.text}".'
    else:
        instruction = f'Click on the "{target.text}" {KIND_NAMES[target.kind]}.'
    query_words = draw_query(image, instruction)
    return image, instruction, target, len(named), text_regions(widgets, query_words)


def click_hits(text: str, target: Widget, slack: float = 2) -> bool:
    """Whether `text` is a click inside the target's clickable box (a parse error or another action misses)."""
    return action_hits(InternVLCodec().parse(text), target, slack)


def action_hits(action, target: Widget, slack: float = 2) -> bool:
    """click_hits for an already parsed action."""
    if not isinstance(action, Click):
        return False
    x0, y0, x1, y1 = target.click_box or target.box
    x, y = action.x * WIDTH, action.y * HEIGHT
    return x0 - slack <= x <= x1 + slack and y0 - slack <= y <= y1 + slack


def bench_grounding(policy_spec: str, samples: int = 120, seed: int = 999_999, batch: int = 24,
                    single: bool = False, use_pointer: bool = True, world: str = "miniwob") -> dict:
    """Pointing hit rate on `samples` generated screens (seeded apart from `viragent screens`' default 0).
    use_pointer: a checkpoint with a pointer (train sft --pointer-loss) moves its clicks as when it acts."""
    policy = InternVLPolicy.from_spec(policy_spec)
    pointing = bool(policy.pointer) and use_pointer
    scores = score_pointing(policy.engine, samples, seed, batch, single, image=policy.image,
                            point=policy.point_click if pointing else None, world=world)
    return scores | {"policy": policy_spec, "pointer": pointing}


def score_pointing(engine, samples: int = 120, seed: int = 999_999, batch: int = 24, single: bool = False,
                   image: str = "first", point=None, world: str = "miniwob") -> dict:
    """bench_grounding's numbers for a loaded VLMEngine (also used by examples/pointing_diagnostic.py); `image`:
    the prompt layout the model was trained on (InternVLPolicy.image); `point`: a checkpoint's pointer
    (InternVLPolicy.point_click), which then moves each click as the policy does when it acts."""
    rng = random.Random(seed)
    hits, chance, answers, images = 0, 0.0, set(), []
    targets, clicks = [], []  # (x, y) in screen pixels, for the clicks that parsed
    codec = InternVLCodec()
    for start in range(0, samples, batch):
        tasks = [pointing_task(rng, single, world) for _ in range(min(batch, samples - start))]
        images += [t[0] for t in tasks[:2]]
        prompts = [user_prompt(t[1], [], image=image) for t in tasks]
        generations = engine.generate([t[0] for t in tasks], prompts, max_new_tokens=24)
        for (screen, instruction, target, n_named, _), prompt, generation in zip(tasks, prompts, generations):
            chance += 1 / n_named
            answers.add(generation.text)
            action = codec.parse(generation.text)
            if point is not None and isinstance(action, Click):
                seen = Observation(screenshot=np.asarray(screen.convert("RGB")), instruction=instruction)
                action = point(seen, prompt, PolicyOutput.from_text(generation.text)).action
            hits += action_hits(action, target)
            if isinstance(action, Click):
                targets.append((target.centre[0] * WIDTH, target.centre[1] * HEIGHT))
                clicks.append((action.x * WIDTH, action.y * HEIGHT))
    return {"samples": samples, "hit_rate": hits / samples, "chance": chance / samples,
            "distinct_answers": len(answers), **axis_errors(targets, clicks), **engine.visual_token_stats(images[:16])}


def axis_errors(targets: list[tuple[float, float]], clicks: list[tuple[float, float]]) -> dict:
    """Median |error| in pixels and Pearson correlation with the target, per axis (None without clicks; a
    correlation of 0 where either side does not vary)."""
    out: dict = {}
    for axis, name in ((0, "x"), (1, "y")):
        t = np.array([p[axis] for p in targets], dtype=float)
        c = np.array([p[axis] for p in clicks], dtype=float)
        out[f"{name}_error_px"] = float(np.median(np.abs(c - t))) if len(t) else None
        if len(t) < 2:
            out[f"{name}_corr"] = None
        elif t.std() == 0 or c.std() == 0:  # a constant side: no linear relation to measure
            out[f"{name}_corr"] = 0.0
        else:
            out[f"{name}_corr"] = float(np.corrcoef(t, c)[0, 1])
    return out

