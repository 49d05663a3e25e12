"""Generated screens for the `pretrained` stage: find the word, point at the widget, read the label.

A tiny policy trained only on expert trajectories finds the buttons but cannot tell them apart: a click
target is one token of supervision per screen, too little to learn to read. These screens give the two
skills their own dense signal, in MiniWoB's look (160x210, a yellow query box, 10 px text, Chromium-style
buttons, links, inputs and check boxes), drawn with PIL so tens of thousands cost a minute:

- point: 'Click on the "amet" button.' -> click(x=, y=) at the widget's centre (buttons, links, words,
  check-box labels, text inputs by order);
- read: 'Read the button at x=412, y=530.' -> done(answer="amet");
- read all: 'Read the buttons.' -> done(answer="ok, amet, nunc"), in reading order.

Every sample also lists the text drawn on its screen as `regions` ({"text", "box"} in 0-1000, InternVL's
grounding convention): the widgets' labels and the query's words. `viragent train sft --region-loss` turns them
into a dense reading signal for each visual token (model.train.region_tokens).

No library generates GUI grounding data, so this is ours. The words are MiniWoB's own lists, read from the
installed wheel. The output is the same InternVL SFT jsonl + meta that `viragent export` writes.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

from viragent.tools import Click, Done, InternVLCodec

from .prompts import user_prompt

WIDTH, HEIGHT, QUERY_HEIGHT = 160, 210, 50
BUTTON_WORDS = ["submit", "ok", "cancel", "yes", "no", "next", "previous", "okay", "button", "go", "send"]
FONT_FILES = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "LiberationSans-Regular.ttf")


@lru_cache(maxsize=1)
def miniwob_words() -> list[str]:
    """MiniWoB's `ui_utils.lorem_words` (punctuation dropped), the words its click tasks draw from."""
    from viragent.environments.browser.miniwob import miniwob_html_dir

    source = (miniwob_html_dir().parent / "common" / "ui_utils.js").read_text()
    block = re.search(r"lorem_words\s*=\s*\[(.*?)\];", source, re.S).group(1)
    words = {w.strip(",.:;") for w in re.findall(r'"([^"]+)"', block)}
    return sorted(w for w in words if w.isalpha()) + BUTTON_WORDS


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.ImageFont:
    for name in FONT_FILES:  # Chromium on Debian renders MiniWoB's Arial as DejaVu Sans
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


@dataclass
class Widget:
    kind: str  # button | link | word | checkbox | input
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels
    click_box: tuple[int, int, int, int] | None = None  # where a click lands (a check box's square)

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.click_box or self.box
        return (x0 + x1) / 2 / WIDTH, (y0 + y1) / 2 / HEIGHT


def draw_widget(draw: ImageDraw.ImageDraw, kind: str, text: str, x: int, y: int, rng: random.Random,
                 input_width: int = 80) -> Widget:
    if kind == "button":
        f = font(13)
        w = int(draw.textlength(text, font=f)) + 14
        box = (x, y, x + w, y + 21)
        draw.rounded_rectangle(box, radius=2, fill=(239, 239, 239), outline=(118, 118, 118))
        draw.text((x + 7, y + 3), text, fill="black", font=f)
        return Widget(kind, text, box)
    if kind == "input":
        box = (x, y + 1, x + input_width, y + 19)
        draw.rectangle(box, fill="white", outline=(118, 118, 118))
        return Widget(kind, text, box)
    f = font(10)
    w = int(draw.textlength(text, font=f))
    if kind == "checkbox":
        square = (x, y + 3, x + 12, y + 15)
        draw.rounded_rectangle(square, radius=2, fill="white", outline=(118, 118, 118))
        if rng.random() < 0.3:
            draw.line((x + 3, y + 9, x + 5, y + 12, x + 10, y + 5), fill=(0, 117, 255), width=2)
        draw.text((x + 16, y + 4), text, fill="black", font=f)
        return Widget(kind, text, (x, y + 3, x + 16 + w, y + 15), click_box=square)
    colour = (0, 0, 238) if kind == "link" else "black"
    draw.text((x, y + 4), text, fill=colour, font=f)
    if kind == "link":
        draw.line((x, y + 15, x + w, y + 15), fill=colour)
    return Widget(kind, text, (x, y + 3, x + w, y + 16))


def blank_screen() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A MiniWoB page before its widgets: white, with the yellow query box (draw_query writes in it)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH - 1, QUERY_HEIGHT - 1), fill=(255, 255, 0))
    return image, draw


def render_screen(rng: random.Random, instruction: str = "") -> tuple[Image.Image, list[Widget]]:
    """A random MiniWoB-looking screen: widgets laid out in lines like HTML inline flow."""
    image, draw = blank_screen()
    widgets: list[Widget] = []
    words = miniwob_words()
    used: set[str] = set()
    x, y, line_h = 2 + rng.randint(0, 6), QUERY_HEIGHT + 2 + rng.randint(0, 8), 0
    for _ in range(rng.randint(3, 9)):
        kind = rng.choices(["button", "link", "word", "checkbox", "input"], [4, 2, 3, 2, 1])[0]
        text = rng.choice(BUTTON_WORDS if kind == "button" and rng.random() < 0.5 else words)
        while text.lower() in used:
            text = rng.choice(words)
        if kind == "button" and rng.random() < 0.5:
            text = text.capitalize()
        used.add(text.lower())
        input_width = rng.randint(40, 130)
        probe = draw_widget(ImageDraw.Draw(Image.new("RGB", (1, 1))), kind, text, 0, 0, random.Random(0), input_width)
        w, h = probe.box[2] + 4, (probe.box[3] if kind != "input" else 20) + 2
        if x + w > WIDTH - 2 or kind == "input" and x > 10 or rng.random() < 0.25:  # wrap
            x, y, line_h = 2 + rng.randint(0, 6), y + max(line_h, 16) + rng.randint(0, 6), 0
        if y + h > HEIGHT - 2:
            break
        widgets.append(draw_widget(draw, kind, text, x, y, rng, input_width))
        x, line_h = x + w, max(line_h, h)
    return image, widgets


def draw_query(image: Image.Image, instruction: str) -> list[tuple[str, tuple[int, int, int, int]]]:
    """The instruction in the yellow query box, wrapped like MiniWoB's 10 px text; returns each word's box."""
    draw, f = ImageDraw.Draw(image), font(10)
    lines, line = [], ""
    for word in instruction.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=f) > WIDTH - 8 and line:
            lines.append(line)
            candidate = word
        line = candidate
    boxes = []
    for i, text in enumerate(lines + [line]):
        y = 3 + 12 * i
        draw.text((3, y), text, fill="black", font=f)
        x = 3.0
        for word in text.split(" "):
            width = draw.textlength(word, font=f)
            boxes.append((word, (int(x), y + 1, int(x + width), y + 11)))
            x += width + draw.textlength(" ", font=f)
    return boxes


def text_regions(widgets: list[Widget], query_words: list[tuple[str, tuple[int, int, int, int]]]) -> list[dict]:
    """The text drawn on a screen as InternVL grounding regions: {"text", "box": [x0, y0, x1, y1] in 0-1000}.
    Text boxes (no text) are left out; the query's words lose their quotes and full stops."""
    def region(text: str, box: tuple[int, int, int, int]) -> dict:
        x0, y0, x1, y1 = box
        return {"text": text, "box": [round(x0 * 1000 / WIDTH), round(y0 * 1000 / HEIGHT),
                                      round(x1 * 1000 / WIDTH), round(y1 * 1000 / HEIGHT)]}

    words = [(word.strip('".,'), box) for word, box in query_words]
    return [region(w.text, w.box) for w in widgets if w.text] + [region(word, box) for word, box in words if word]


KIND_NAMES = {"button": "button", "link": "link", "word": "word", "checkbox": "checkbox", "input": "text box"}
_CODEC = InternVLCodec()


def make_sample(rng: random.Random, codec: InternVLCodec = _CODEC) -> tuple[Image.Image, str, str]:
    """(screen, instruction, answer) for one generated task; `codec` writes the answer."""
    return make_task(rng, codec)[:3]


def make_task(rng: random.Random, codec: InternVLCodec = _CODEC) -> tuple[Image.Image, str, str, list[dict]]:
    """make_sample's task plus the text regions drawn on its screen (`text_regions`)."""
    image, widgets = render_screen(rng)
    while not widgets:
        image, widgets = render_screen(rng)
    target = rng.choice(widgets)
    roll = rng.random()
    named = [w for w in widgets if w.kind != "input"]
    if roll < 0.6 or not named:
        if target.kind == "input":
            inputs = [w for w in widgets if w.kind == "input"]
            nth = ["1st", "2nd", "3rd", "4th"][min(inputs.index(target), 3)]
            instruction = f"Click on the {nth} text box." if len(inputs) > 1 else "Click on the text box."
        elif target.kind == "link":
            instruction = f'Click on the link "{target.text}".'
        else:
            instruction = f'Click on the "{target.text}" {KIND_NAMES[target.kind]}.'
        answer = codec.encode(Click(x=target.centre[0], y=target.centre[1]))
    elif roll < 0.85:
        target = rng.choice(named)
        at = _CODEC.encode(Click(x=target.centre[0], y=target.centre[1]))[len("click("):-1]
        instruction = f"Read the {KIND_NAMES[target.kind]} at {at}."
        answer = _CODEC.encode(Done(answer=target.text))
    else:
        kind = rng.choice(sorted({w.kind for w in named}))
        texts = [w.text for w in named if w.kind == kind]
        instruction = f"Read the {KIND_NAMES[kind]}s." if kind != "checkbox" else "Read the checkbox labels."
        answer = _CODEC.encode(Done(answer=", ".join(texts)))
    query_words = draw_query(image, instruction)
    return image, instruction, answer, text_regions(widgets, query_words)


def task_sample(image: Image.Image | str, instruction: str, answer: str, regions: list[dict],
                image_position: str = "first") -> dict:
    """A generated task as one InternVL SFT sample (the image a path on disk or in memory)."""
    prompt = user_prompt(instruction, [], image=image_position)
    return {"image": image, "conversations": [{"from": "human", "value": prompt},
                                              {"from": "gpt", "value": answer}], "regions": regions}


def synthetic_texts(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(instruction, answer) pairs of generated tasks, for the tokenizer corpus."""
    return [make_sample(rng)[1:] for _ in range(n)]


def generate_screens(out: str | Path, n: int, seed: int = 0, name: str = "viragent_screens",
                     bins: int | None = None, image_position: str = "first", make: Callable = make_task) -> dict:
    """Write N generated tasks as OUT/screens/*.png + OUT/NAME.jsonl + OUT/NAME_meta.json (InternVL format);
    `image_position` places the screenshot in the prompt (prompts.IMAGE_POSITIONS); `make(rng, codec)` draws
    each task (make_task, or agent.synthetic_lists.make_list_task)."""
    out = Path(out)
    (out / "screens").mkdir(parents=True, exist_ok=True)
    rng, codec = random.Random(seed), InternVLCodec(bins)
    jsonl = out / f"{name}.jsonl"
    with jsonl.open("w", encoding="utf-8") as f:
        for i in range(n):
            image, instruction, answer, regions = make(rng, codec)
            path = out / "screens" / f"{i:06d}.png"
            image.save(path, optimize=False, compress_level=1)
            sample = task_sample(str(path.resolve()), instruction, answer, regions, image_position)
            f.write(json.dumps({"id": f"screens/{i}", **sample, "env_id": "generated/screens"}) + "\n")
    meta = {name: {"root": "/", "annotation": str(jsonl.resolve()), "data_augment": False, "repeat_time": 1,
                   "length": n}}
    (out / f"{name}_meta.json").write_text(json.dumps(meta, indent=2))
    return meta[name]
