"""Pointing with the visual tokens: the grid cells inside a token, the limit on a click's numbers, the points given to
click samples, and a tiny model trained with the pointer-token loss whose policy keeps its clicks on the token it
points at."""

import numpy as np
import pytest
import torch
from PIL import Image

from viragent.agent.internvl_policy import InternVLPolicy, tiny_tokenizer as make_tiny_tokenizer
from viragent.agent.pointing import ClickInBox, cells_inside, snapped_into
from viragent.agent.policies import PolicyOutput
from viragent.agent.training import add_click_points
from viragent.environments import Observation
from viragent.model.inference import VLMEngine
from viragent.model.loading import build_random
from viragent.model.processor import InternVLChatProcessor
from viragent.model.train.sft import SFTConfig, train_sft
from viragent.tools import Click, InternVLCodec

GRID = InternVLCodec(32)
TOKEN_20 = (0.5, 0.25, 0.625, 0.375)  # row 2, column 4 of the 8 x 8 visual tokens of one tile


@pytest.fixture(scope="module")
def tiny_tokenizer():
    return make_tiny_tokenizer()


def test_the_grid_cells_inside_a_token():
    assert cells_inside(GRID, 0.5, 0.625) == [516, 547, 578, 609]
    assert cells_inside(GRID, 0.51, 0.52) == [516]  # narrower than a cell: the nearest one


def test_a_click_outside_the_token_moves_to_its_centre_on_that_axis_only():
    click = snapped_into(Click(x=0.047, y=0.328), TOKEN_20, GRID)
    assert (click.x, click.y) == (0.578, 0.328)


def test_the_limit_holds_only_for_a_click_s_numbers(tiny_tokenizer):
    limit = ClickInBox(tiny_tokenizer, [516, 547], [266]).starting_at(2)
    vocab = len(tiny_tokenizer)

    def allowed_after(text: str) -> set[int]:
        ids = torch.tensor([[7, 8] + tiny_tokenizer(text, add_special_tokens=False)["input_ids"]])
        scores = limit(ids, torch.zeros(1, vocab))
        return set(torch.nonzero(scores[0] > float("-inf")).flatten().tolist())

    def ids(*values):
        return {tiny_tokenizer(str(v), add_special_tokens=False)["input_ids"][0] for v in values}

    assert allowed_after("click(x=") == ids(516, 547)
    assert allowed_after("click(x=516, y=") == ids(266)
    assert len(allowed_after("click(")) == vocab
    assert len(allowed_after('type(text="x=')) == vocab  # a typed string that happens to end so


def test_click_samples_get_their_point():
    samples = [{"image": "a.png", "conversations": [{"from": "human", "value": "<image>"},
                                                    {"from": "gpt", "value": "click(x=203, y=297)"}]},
               {"image": "b.png", "conversations": [{"from": "human", "value": "<image>"},
                                                    {"from": "gpt", "value": 'type(text="hi")'}]},
               {"conversations": [{"from": "human", "value": "a question"}, {"from": "gpt", "value": "click(x=1, y=2)"}]}]
    assert add_click_points(samples) == 1
    assert samples[0]["point"] == [203, 297] and "point" not in samples[1] and "point" not in samples[2]


def mark_at(cell: int, tmp_path, name: str) -> dict:
    """A grey screen with one white square on token `cell` of the 8 x 8 grid; the answer clicks its centre."""
    row, col = divmod(cell, 8)
    pixels = np.full((224, 224, 3), 90, dtype=np.uint8)
    pixels[row * 28 + 6:row * 28 + 22, col * 28 + 6:col * 28 + 22] = 255
    path = tmp_path / f"{name}.png"
    Image.fromarray(pixels).save(path)
    x, y = GRID.snap((col + 0.5) / 8), GRID.snap((row + 0.5) / 8)
    return {"image": str(path), "point": [x, y],
            "conversations": [{"value": "Task: click the square\nPrevious actions:\nnone\n<image>\nNext action:"},
                              {"value": f"click(x={x}, y={y})"}]}


def test_trained_to_point_the_policy_keeps_its_click_on_the_mark(tiny_tokenizer, tmp_path):
    rng = np.random.default_rng(0)
    train = [mark_at(int(c), tmp_path, f"t{i}") for i, c in enumerate(rng.integers(0, 64, 48))]
    held_out = [mark_at(c, tmp_path, f"h{c}") for c in (3, 20, 37, 58)]
    model = build_random("tiny", tiny_tokenizer, seed=0)
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    engine = VLMEngine(model, proc)

    def pointed_cells() -> list[int]:
        return [int(engine.pointer(Image.open(s["image"]), s["conversations"][0]["value"], "<box>")[0].argmax())
                for s in held_out]

    assert pointed_cells() != [3, 20, 37, 58]
    config = SFTConfig(out=str(tmp_path / "run"), steps=60, batch_size=8, lr=3e-3, warmup_steps=5, pointer_loss=1.0,
                       log_every=10)
    history = train_sft(model, proc, train, config)["history"]
    assert history[-1]["pointer_loss"] < 0.2 * history[0]["pointer_loss"]
    assert pointed_cells() == [3, 20, 37, 58]  # marks on tokens it never saw one on

    policy = InternVLPolicy(engine, image="last", pointer={"token": "<box>", "bins": 32})
    screen = np.asarray(Image.open(held_out[1]["image"]))  # the mark on token 20
    observation = Observation(screenshot=screen, instruction="click the square", info={"task": "generated/mark"})
    prompt = held_out[1]["conversations"][0]["value"]
    answered = "click(x=47, y=328)"  # the right row, the wrong column
    moved = policy.point_click(observation, prompt, PolicyOutput.from_text(answered))
    assert isinstance(moved.action, Click)
    x0, y0, x1, y1 = TOKEN_20
    assert x0 <= moved.action.x < x1 and y0 <= moved.action.y < y1
    assert moved.action.x == GRID.snap(moved.action.x) / 1000 and moved.action.y == GRID.snap(moved.action.y) / 1000
    assert moved.raw_text == answered  # the log keeps the answer as written beside the click made
    agreed = policy.point_click(observation, prompt, PolicyOutput.from_text("click(x=516, y=297)"))  # inside token 20
    assert (agreed.action.x, agreed.action.y) == (0.516, 0.297) and 0 < agreed.stats["pointer_p"] <= 1

