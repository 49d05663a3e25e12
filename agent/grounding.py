"""`viragent bench grounding`: can a policy point at a named widget? Scored on generated screens it never saw.

Success rates in an env mix many skills; this isolates the one the tiny policy lacks. Each screen has 3-9
named widgets (buttons, links, words, check boxes, as `viragent screens` draws them) and asks to click one
by its text. A click inside the target (2 px slack) is a hit; `chance` is what picking a widget at random
would score. `distinct answers` counts different click texts: a policy that ignores the image gives one.
`content_ratio` (model.inference.VLMEngine.visual_token_stats) says whether the image reaches the LLM at all.
"""

from __future__ import annotations

import random

from viragent.tools import Click, InternVLCodec

from .internvl_policy import InternVLPolicy
from .prompts import user_prompt
from .synthetic import HEIGHT, KIND_NAMES, WIDTH, Widget, draw_query, render_screen

NAMED = ("button", "link", "word", "checkbox")


def pointing_task(rng: random.Random):
    """(screen, instruction, target widget, number of named widgets on the screen)."""
    while True:
        image, widgets = render_screen(rng)
        named = [w for w in widgets if w.kind in NAMED]
        if named:
            break
    target = rng.choice(named)
    if target.kind == "link":
        instruction = f'Click on the link "{target.text}".'
    else:
        instruction = f'Click on the "{target.text}" {KIND_NAMES[target.kind]}.'
    draw_query(image, instruction)
    return image, instruction, target, len(named)


def click_hits(text: str, target: Widget, slack: float = 2) -> bool:
    """Whether `text` is a click inside the target's clickable box (a parse error or another action misses)."""
    action = InternVLCodec().parse(text)
    if not isinstance(action, Click):
        return False
    x0, y0, x1, y1 = target.click_box or target.box
    x, y = action.x * WIDTH, action.y * HEIGHT
    return x0 - slack <= x <= x1 + slack and y0 - slack <= y <= y1 + slack


def bench_grounding(policy_spec: str, samples: int = 120, seed: int = 999_999, batch: int = 24) -> dict:
    """Pointing hit rate on `samples` generated screens (seeded apart from `viragent screens`' default 0)."""
    policy = InternVLPolicy.from_spec(policy_spec)
    engine, rng = policy.engine, random.Random(seed)
    hits, chance, answers, images = 0, 0.0, set(), []
    for start in range(0, samples, batch):
        tasks = [pointing_task(rng) for _ in range(min(batch, samples - start))]
        images += [t[0] for t in tasks[:2]]
        generations = engine.generate([t[0] for t in tasks], [user_prompt(t[1], []) for t in tasks],
                                      max_new_tokens=24)
        for (_, _, target, n_named), generation in zip(tasks, generations):
            chance += 1 / n_named
            answers.add(generation.text)
            hits += click_hits(generation.text, target)
    return {"policy": policy_spec, "samples": samples, "hit_rate": hits / samples, "chance": chance / samples,
            "distinct_answers": len(answers), **engine.visual_token_stats(images[:16])}

