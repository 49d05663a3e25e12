"""Pointing with the visual tokens: the grid cells inside a token, the limit on a click's numbers, the points given to
click samples, and a tiny model trained with the pointer-token loss whose policy keeps its clicks on the token it
points at; and the pointer head (model/pointer_head.py, `viragent train pointer-head`), trained on a frozen model's
hidden states, which finds marks it never saw, leaves the model's weights as they were and moves clicks onto the
token it picks, and survives shipping."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from viragent.agent.head_training import pointer_head_from_data
from viragent.agent.internvl_policy import InternVLPolicy, tiny_tokenizer as make_tiny_tokenizer
from viragent.agent.pointing import ClickInBox, cells_inside, snapped_into
from viragent.agent.policies import PolicyOutput
from viragent.agent.prompts import user_prompt
from viragent.agent.training import add_click_points
from viragent.environments import Observation
from viragent.model.inference import VLMEngine
from viragent.model.loading import build_random, save_checkpoint, ship_checkpoint
from viragent.model.pointer_head import HEAD_FILE, PointerHead
from viragent.model.processor import InternVLChatProcessor
from viragent.model.train.pointer_head import head_features, pointer_hits, train_pointer_head
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


def test_trained_to_point_the_policy_keeps_its_click_on_the_mark(tiny_tokenizer, tmp_path, monkeypatch):
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
    # Acting, the pointer reads the states generate kept from its prefill (the prompt goes through the model once):
    # the same click and probabilities as a second forward pass of the prompt gives.
    with monkeypatch.context() as patched:
        patched.setattr(engine, "prompt_states", lambda *a, **k: pytest.fail("a second forward pass of the prompt"))
        acted = policy.act(observation, [])
    assert isinstance(acted.action, Click)
    again = policy.point_click(observation, user_prompt(observation.instruction, [], image=policy.image),
                               PolicyOutput.from_text(acted.raw_text))
    assert acted.action == again.action
    assert all(acted.stats[k] == pytest.approx(again.stats[k], abs=1e-4) for k in ("pointer_p", "pointer_answer_p"))


@pytest.fixture(scope="module")
def marks(tmp_path_factory):
    """A trained-looking checkpoint (random tiny weights saved as ours) and mark screens exported as a dataset."""
    root = tmp_path_factory.mktemp("head")
    tokenizer = make_tiny_tokenizer()
    model = build_random("tiny", tokenizer, seed=0)
    checkpoint = save_checkpoint(model, tokenizer, root / "ck", {"processor": {"max_tiles": 1, "system": None},
                                                                   "prompt": {"image": "last"},
                                                                   "sft": {"position_texts": [str(v) for v in range(32)]}})
    rng = np.random.default_rng(0)
    train = [mark_at(int(c), root, f"t{i}") for i, c in enumerate(rng.integers(0, 64, 160))]
    held_out = [mark_at(c, root, f"h{c}") for c in (3, 20, 37, 58)]
    data = root / "marks.jsonl"
    exported = [{"image": s["image"], "conversations": [{"from": "human", "value": s["conversations"][0]["value"]},
                                                         {"from": "gpt", "value": s["conversations"][1]["value"]}]}
                for s in train]  # as `viragent export` writes them: the point comes from the click answer
    data.write_text("".join(json.dumps(s) + "\n" for s in exported))
    meta = root / "marks_meta.json"
    meta.write_text(json.dumps({"marks": {"root": "/", "annotation": str(data), "repeat_time": 1,
                                          "length": len(train)}}))
    return {"checkpoint": checkpoint, "model": model, "tokenizer": tokenizer, "train": train, "held_out": held_out,
            "meta": str(meta), "root": root}


def test_trained_on_frozen_features_the_head_finds_marks_it_never_saw(marks):
    proc = InternVLChatProcessor(marks["tokenizer"], tile=224, tokens_per_tile=64, max_tiles=1)
    features = head_features(marks["model"], proc, marks["train"])
    held = head_features(marks["model"], proc, marks["held_out"])
    assert features["visual"].shape == (160, 64, marks["model"].config.text_config.hidden_size)
    untrained = PointerHead(features["visual"].shape[-1], 64).eval()
    assert sum(pointer_hits(untrained, held)) < 4
    head, losses = train_pointer_head(features, 64, steps=300, batch_size=32)
    assert np.mean(losses[-20:]) < 0.3 * np.mean(losses[:20])
    assert pointer_hits(head, held) == [True] * 4


def test_the_command_writes_a_checkpoint_whose_clicks_go_where_the_head_points(marks):
    out = marks["root"] / "with-head"
    result = pointer_head_from_data(str(marks["checkpoint"]), [marks["meta"]], out, steps=300, holdout=0.1,
                                    move_ratio=1.0)
    assert result["held_out_hits"] > 0.5  # 16 held-out marks; the untrained head picks about 1 in 64
    meta = json.loads((out / "viragent.json").read_text())
    assert meta["pointer"] == {"head": HEAD_FILE, "bins": 32, "move_ratio": 1.0}
    assert meta["pointer_head"]["clicks"] == 144 and meta["pointer_head"]["held_out"] == 16
    # The model is copied unchanged, so every answer it writes stays the same.
    original, copied = load_file(marks["checkpoint"] / "model.safetensors"), load_file(out / "model.safetensors")
    assert original.keys() == copied.keys() and all(torch.equal(original[k], copied[k]) for k in original)

    policy = InternVLPolicy.from_spec(str(out))
    assert policy.pointer_head is not None
    screen = np.asarray(Image.open(marks["held_out"][1]["image"]))  # the mark on token 20
    observation = Observation(screenshot=screen, instruction="click the square", info={"task": "generated/mark"})
    prompt = marks["held_out"][1]["conversations"][0]["value"]
    moved = policy.point_click(observation, prompt, PolicyOutput.from_text("click(x=47, y=328)"))
    assert isinstance(moved.action, Click)
    x0, y0, x1, y1 = TOKEN_20
    assert x0 <= moved.action.x < x1 and y0 <= moved.action.y < y1
    # The states generate kept from its prefill give the head what a second forward pass of the prompt gives.
    kept = policy.engine.generate([screen], [prompt], keep_prompt_states=True)[0].prompt_states
    with_kept = policy.point_click(observation, prompt, PolicyOutput.from_text("click(x=47, y=328)"), kept)
    assert with_kept.action == moved.action and with_kept.stats == moved.stats
    # Gated: a click moves only where the head is move_ratio times surer of its token than of the answer's. An
    # answer in the head's second choice: the head is probs[0] / probs[1] times surer of its first.
    probs, boxes = policy.engine.pointer(screen, prompt, head=policy.pointer_head)
    first, second = probs.topk(2).indices.tolist()
    x0, y0, x1, y1 = boxes[second]
    answer = f"click(x={GRID.snap((x0 + x1) / 2)}, y={GRID.snap((y0 + y1) / 2)})"
    surer = float(probs[first] / probs[second])
    policy.pointer["move_ratio"] = surer * 1.01
    kept = policy.point_click(observation, prompt, PolicyOutput.from_text(answer))
    assert kept.action == PolicyOutput.from_text(answer).action
    policy.pointer["move_ratio"] = surer * 0.99
    moved = policy.point_click(observation, prompt, PolicyOutput.from_text(answer)).action
    assert boxes[first][0] <= moved.x < boxes[first][2] and boxes[first][1] <= moved.y < boxes[first][3]

    shipped = ship_checkpoint(out, "with-head", bf16=True, weights_dir=marks["root"] / "weights")
    reloaded = PointerHead.load(shipped)  # bf16 on disk, its sizes kept
    assert reloaded.tokens_per_tile == 64 and reloaded.local[0].weight.dtype == torch.float32
    with pytest.raises(FileExistsError, match="not empty"):
        pointer_head_from_data(str(marks["checkpoint"]), [marks["meta"]], out, steps=10)


def test_a_preset_or_data_without_clicks_is_refused_with_the_fix(marks, tmp_path):
    with pytest.raises(ValueError, match="random-weight preset"):
        pointer_head_from_data("tiny", [marks["meta"]], tmp_path / "a")
    data = tmp_path / "typing.jsonl"
    data.write_text(json.dumps({"image": marks["train"][0]["image"], "conversations": [
        {"from": "human", "value": "<image>"}, {"from": "gpt", "value": 'type(text="hi")'}]}) + "\n")
    meta = tmp_path / "typing_meta.json"
    meta.write_text(json.dumps({"t": {"root": "/", "annotation": str(data), "repeat_time": 1, "length": 1}}))
    with pytest.raises(ValueError, match="needs clicks"):
        pointer_head_from_data(str(marks["checkpoint"]), [str(meta)], tmp_path / "b")
