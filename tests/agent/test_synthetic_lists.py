"""`viragent screens --world lists`: click-option / click-checkboxes-like pages whose first click must land on the
button of the item the instruction names, with random-string labels as the pages draw them."""

import json
import random
import re

import numpy as np
from typer.testing import CliRunner

from viragent.agent.cli import app
from viragent.agent.synthetic import HEIGHT, WIDTH
from viragent.agent.synthetic_lists import ALPHANUMERIC, make_list_task, render_list
from viragent.tools import Click, InternVLCodec

runner = CliRunner()


def test_the_first_click_lands_on_the_named_item_s_button_or_on_submit():
    rng, seen = random.Random(0), {"radio": 0, "checkbox": 0, "nothing": 0}
    for _ in range(200):
        replay = random.Random()
        replay.setstate(rng.getstate())
        image, instruction, answer, regions = make_list_task(rng, InternVLCodec(32))  # the recipe's 32 cells
        kind = replay.choice(["radio", "checkbox"])  # the same draws again: the page's items and Submit
        _, items, submit = render_list(replay, kind)
        named = re.fullmatch(r"Select (.+) and click Submit\.", instruction).group(1)
        click = InternVLCodec(32).parse(answer)
        assert isinstance(click, Click)
        x, y = click.x * WIDTH, click.y * HEIGHT
        if named == "nothing":
            target = submit.box
            seen["nothing"] += 1
        else:
            names = named.split(", ")
            labels = [w.text for w in items]
            assert set(names) <= set(labels) and (kind == "checkbox" or len(names) == 1)
            target = next(w for w in items if w.text == names[0]).click_box  # the first named, by its button
            seen[kind] += 1
        assert target[0] <= x <= target[2] and target[1] <= y <= target[3], (instruction, answer, target)
        # every label is 2-7 letters or digits, drawn in ink where its region says
        for item in items:
            assert 2 <= len(item.text) <= 7 and set(item.text) <= set(ALPHANUMERIC)
        pixels = np.asarray(image)
        for region in regions:
            x0, y0, x1, y1 = region["box"]
            patch = pixels[y0 * HEIGHT // 1000:y1 * HEIGHT // 1000 + 1, x0 * WIDTH // 1000:x1 * WIDTH // 1000 + 1]
            assert (patch < 128).any(), region
    # radio lists, named boxes and "Select nothing" (no box named: 0.5 ** items, rare) all occur
    assert seen["radio"] > 50 and seen["checkbox"] > 50 and seen["nothing"] > 0, seen


def test_the_command_writes_an_internvl_dataset_of_lists(tmp_path):
    r = runner.invoke(app, ["screens", "--world", "lists", "--samples", "12", "--bins", "32", "--image", "last",
                            "--out", str(tmp_path / "lists")])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in open(tmp_path / "lists" / "viragent_lists.jsonl")]
    assert len(lines) == 12 and all(line["regions"] for line in lines)
    prompt = lines[0]["conversations"][0]["value"]
    assert prompt.startswith("Task: Select ") and prompt.endswith("<image>\nNext action:")
    bad = runner.invoke(app, ["screens", "--world", "forms", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "unknown world 'forms'" in bad.output and "lists" in bad.output
