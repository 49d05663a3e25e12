"""`viragent screens --world lists`: click-option / click-checkboxes-like pages whose first click must land on the
button of the item the instruction names, with random-string labels as the pages draw them."""

import json
import random
import re

import numpy as np
from typer.testing import CliRunner

from viragent.agent.cli import app
from viragent.agent.synthetic import HEIGHT, WIDTH
from viragent.agent.synthetic_lists import ALPHANUMERIC, list_task, make_list_task
from viragent.tools import Click, InternVLCodec

runner = CliRunner()


def test_the_first_click_lands_on_the_named_item_s_button_or_on_submit():
    rng, seen = random.Random(0), {"radio": 0, "checkbox": 0, "nothing": 0}
    for _ in range(200):
        image, instruction, target, candidates, regions = list_task(rng)
        items, submit = candidates[:-1], candidates[-1]
        named = re.fullmatch(r"Select (.+) and click Submit\.", instruction).group(1)
        if named == "nothing":
            assert target is submit
            seen["nothing"] += 1
        else:
            names = named.split(", ")
            assert set(names) <= {w.text for w in items} and (items[0].kind == "checkbox" or len(names) == 1)
            assert target is next(w for w in items if w.text == names[0])  # the first named, as the expert clicks
            seen[items[0].kind] += 1
        # snapped to the recipe's 32 cells, the click still lands on the target's button (Submit: the button itself)
        grid = InternVLCodec(32)
        click = grid.parse(grid.encode(Click(x=target.centre[0], y=target.centre[1])))
        x0, y0, x1, y1 = target.click_box or target.box
        assert x0 <= click.x * WIDTH <= x1 and y0 <= click.y * HEIGHT <= y1, (instruction, target)
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
    # the dataset's sample is that task with its answer written
    image, instruction, target, _, regions = list_task(random.Random(5))
    assert make_list_task(random.Random(5), InternVLCodec(32))[1:] == (
        instruction, InternVLCodec(32).encode(Click(x=target.centre[0], y=target.centre[1])), regions)


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
