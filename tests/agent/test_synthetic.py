"""Generated screens for the `pretrained` stage: the answer must describe the widget drawn on the screen."""

import json
import random

import numpy as np

from viragent.agent.datasets import load_mixture
from viragent.agent.synthetic import HEIGHT, QUERY_HEIGHT, WIDTH, generate_screens, make_sample, make_task, render_screen
from viragent.tools import Click, Done, InternVLCodec


def test_click_answers_land_on_the_named_widget():
    codec = InternVLCodec()
    rng = random.Random(3)
    checked = 0
    for _ in range(200):
        image, instruction, answer = make_sample(rng)
        action = codec.parse(answer)
        assert isinstance(action, (Click, Done)), answer
        if isinstance(action, Click):
            x, y = round(action.x * WIDTH), round(action.y * HEIGHT)
            assert QUERY_HEIGHT <= y < HEIGHT and 0 <= x < WIDTH
            # the target is drawn: around the click there is ink (a label, or a text box's border)
            patch = np.asarray(image)[max(0, y - 10):y + 11, max(0, x - 8):x + 9]
            assert (patch < 200).any(), instruction
            checked += 1
    assert checked > 80


def test_widgets_do_not_overlap():
    rng = random.Random(0)
    for _ in range(100):
        _, widgets = render_screen(rng)
        boxes = [w.box for w in widgets]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                overlap = min(a[2], b[2]) - max(a[0], b[0]) > 0 and min(a[3], b[3]) - max(a[1], b[1]) > 0
                assert not overlap, (a, b)


def test_read_answers_name_a_drawn_label():
    rng = random.Random(5)
    reads = [s for s in (make_sample(rng) for _ in range(300)) if s[1].startswith("Read")]
    assert reads
    for _, instruction, answer in reads:
        action = InternVLCodec().parse(answer)
        assert isinstance(action, Done) and action.answer


def test_generated_dataset_is_internvl_format_and_mixes(tmp_path):
    meta = generate_screens(tmp_path / "screens", 40, seed=1)
    lines = [json.loads(line) for line in open(meta["annotation"])]
    assert meta["length"] == len(lines) == 40
    assert lines[0]["conversations"][0]["value"].startswith("<image>\nTask: ")
    meta_file = tmp_path / "screens" / "viragent_screens_meta.json"
    assert len(load_mixture([str(meta_file)])) == 40
    assert len(load_mixture([f"{meta_file}:0.25"])) == 10
    assert len(load_mixture([f"{meta_file}:2", f"{meta_file}:0.5"])) == 100


def test_regions_name_the_text_where_it_is_drawn():
    """Each region is a label or a query word, its box (0-1000) on ink of the drawn screen."""
    rng = random.Random(7)
    for _ in range(50):
        image, instruction, answer, regions = make_task(rng)
        pixels = np.asarray(image)
        query_words = [w.strip('".,') for w in instruction.split()]
        assert [r["text"] for r in regions][-len(query_words):] == [w for w in query_words if w]
        for region in regions:
            x0, y0, x1, y1 = region["box"]
            assert 0 <= x0 < x1 <= 1000 and 0 <= y0 < y1 <= 1000
            patch = pixels[y0 * HEIGHT // 1000:y1 * HEIGHT // 1000 + 1, x0 * WIDTH // 1000:x1 * WIDTH // 1000 + 1]
            assert (patch < 128).any(), region  # dark ink: text is drawn there


def test_generated_dataset_carries_regions(tmp_path):
    meta = generate_screens(tmp_path / "screens", 5, seed=2)
    lines = [json.loads(line) for line in open(meta["annotation"])]
    assert all(line["regions"] and {"text", "box"} <= set(line["regions"][0]) for line in lines)
