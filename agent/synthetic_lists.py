"""Generated MiniWoB-style option lists: a column of radio buttons or check boxes with random-string labels and a
Submit button, "Select X and click Submit.", answered by a click on the named item's button.

Why: the generated screens (agent/synthetic.py) draw their labels from MiniWoB's lorem words and flow widgets in
lines. click-option and click-checkboxes draw `ui_utils.generateString(2, 8)` labels (2-7 random letters and digits)
in a column, and no model trained here finds the named one above chance, while one trained on four times the
samples finds named words on the generated screens half the time (examples/EXPERIMENTS.md "Grounding on generated
screens"). These screens give the pages' layout and strings with far more distinct pages than their demonstrations.
Each sample is one first click (the page as it loads); the later clicks of a multi-box answer stay with the
demonstrations.
"""

from __future__ import annotations

import random

from PIL import Image

from viragent.tools import Click, InternVLCodec

from .synthetic import QUERY_HEIGHT, Widget, blank_screen, draw_query, draw_widget, font, text_regions

ALPHANUMERIC = "qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM1234567890"  # ui_utils.alphanumericChars
_CODEC = InternVLCodec()


def random_label(rng: random.Random) -> str:
    """ui_utils.generateString(2, 8): core.randi's upper bound is exclusive, so 2-7 characters."""
    return "".join(rng.choice(ALPHANUMERIC) for _ in range(rng.randint(2, 7)))


def render_list(rng: random.Random, kind: str) -> tuple[Image.Image, list[Widget], Widget]:
    """A click-option (kind "radio") or click-checkboxes ("checkbox") page as it loads: 2-6 items, one per line
    (the page's `input { width: 20px }` then the label), a blank line, Submit. Returns the items and Submit."""
    image, draw = blank_screen()
    n, labels = rng.randint(2, 6), []  # core.randi(2, 7)
    while len(labels) < n:
        label = random_label(rng)
        if label not in labels:
            labels.append(label)
    f, items = font(10), []
    x, y = 2 + rng.randint(0, 3), QUERY_HEIGHT + 2 + rng.randint(0, 4)
    for label in labels:
        button = (x + 4, y + 3, x + 16, y + 15)
        if kind == "radio":
            draw.ellipse(button, fill="white", outline=(118, 118, 118))
        else:
            draw.rounded_rectangle(button, radius=2, fill="white", outline=(118, 118, 118))
        draw.text((x + 22, y + 4), label, fill="black", font=f)
        width = int(draw.textlength(label, font=f))
        items.append(Widget(kind, label, (x + 22, y + 3, x + 22 + width, y + 16), click_box=button))
        y += 18
    submit = draw_widget(draw, "button", "Submit", x, y + 18, rng)
    return image, items, submit


def list_task(rng: random.Random) -> tuple[Image.Image, str, Widget, list[Widget], list[dict]]:
    """(screen with its instruction drawn, instruction, the widget the first click belongs on, the page's items and
    Submit, text regions)."""
    kind = rng.choice(["radio", "checkbox"])
    image, items, submit = render_list(rng, kind)
    if kind == "radio":
        named = [rng.choice(items)]
    else:  # each box is named with probability 0.5, as the page does; none named: "Select nothing"
        named = [w for w in items if rng.random() < 0.5]
    target = named[0] if named else submit
    instruction = f"Select {', '.join(w.text for w in named) or 'nothing'} and click Submit."
    query_words = draw_query(image, instruction)
    return image, instruction, target, items + [submit], text_regions(items + [submit], query_words)


def make_list_task(rng: random.Random, codec: InternVLCodec = _CODEC) -> tuple[Image.Image, str, str, list[dict]]:
    """(screen, instruction, answer, text regions) as agent.synthetic.make_task returns them."""
    image, instruction, target, _, regions = list_task(rng)
    return image, instruction, codec.encode(Click(x=target.centre[0], y=target.centre[1])), regions
