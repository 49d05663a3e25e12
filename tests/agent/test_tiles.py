"""train sft --tiles (a checkpoint that sees each screen as a fixed grid of tiles), and examples/first_clicks.py,
which read the probe made with it."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from viragent.agent.cli import app
from viragent.agent.head_training import pointer_head_from_data
from viragent.agent.internvl_policy import InternVLPolicy
from viragent.environments import Observation
from viragent.model.processor import IMG_CONTEXT

runner = CliRunner()


def test_tiles_train_and_serve_a_two_by_two_grid_with_thumbnail(tmp_path):
    """A MiniWoB-sized screen (160 x 210) gets one tile under InternVL's rule even at max_tiles 12; --tiles 4
    forces the 2 x 2 grid and its thumbnail (5 tiles) in training, with region labels for every tile, and the
    checkpoint records it so that serving sees what training saw."""
    data, ckpt = tmp_path / "screens", tmp_path / "ckpt"
    r = runner.invoke(app, ["screens", "--samples", "40", "--image", "last", "--out", str(data)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", "sft", "--data", str(data / "viragent_screens_meta.json"), "--steps", "2",
                            "--batch-size", "4", "--warmup", "1", "--region-loss", "1", "--tiles", "4",
                            "--out", str(ckpt)])
    assert r.exit_code == 0, r.output
    assert json.loads((ckpt / "history.json").read_text())[-1]["region_loss"] > 0  # labels on all five tiles
    served = json.loads((ckpt / "final" / "viragent.json").read_text())["processor"]
    assert served["min_tiles"] == served["max_tiles"] == 4
    policy = InternVLPolicy.from_spec(str(ckpt / "final"))
    screen = np.full((210, 160, 3), 255, dtype=np.uint8)
    assert len(policy.engine.processor.tiles(screen)) == 5
    inputs = policy.engine.processor([screen], ["Task: Click the button.\n<image>\nNext action:"])
    assert inputs["pixel_values"].shape[0] == 5
    assert inputs["prompts"][0].count(IMG_CONTEXT) == 5 * policy.engine.processor.tokens_per_tile
    action = policy.act(Observation(screen, "Click the button.", {"task": "miniwob/click-button"}), [])
    assert action is not None  # the 320-token image block runs through the model end to end

    # A pointer head on the tiled checkpoint (the recipe's last stage with TILES=4): every screen has the same 320
    # tokens, so the head trains; it scores the four tiles' tokens and the thumbnail's, each with its own box.
    result = pointer_head_from_data(str(ckpt / "final"), [str(data / "viragent_screens_meta.json")],
                                    tmp_path / "with-head", steps=3, holdout=0.25, move_ratio=1.0)
    assert len(result["losses"]) == 3
    headed = InternVLPolicy.from_spec(str(tmp_path / "with-head"))
    assert headed.pointer_head is not None and headed.engine.processor.min_tiles == 4
    probs, boxes = headed.engine.pointer(screen, "Task: Click the button.\n<image>\nNext action:",
                                         head=headed.pointer_head)
    assert probs.shape == (320,) and len(boxes) == 320
    tile_token, thumbnail_token = boxes[0], boxes[-1]  # a tile token spans half a thumbnail token's width
    assert tile_token[2] - tile_token[0] == pytest.approx((thumbnail_token[2] - thumbnail_token[0]) / 2)
    assert headed.act(Observation(screen, "Click the button.", {"task": "miniwob/click-button"}), []) is not None

    # the default keeps InternVL's rule (one tile for this screen, as every shipped tiny checkpoint was trained)
    assert len(InternVLPolicy.from_spec("tiny").engine.processor.tiles(screen)) == 1
    bad = runner.invoke(app, ["train", "sft", "--data", str(data / "viragent_screens_meta.json"), "--steps", "1",
                              "--tiles", "0", "--out", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "tiles must be at least 1" in bad.output


def test_first_clicks_compares_a_policy_with_the_expert_on_the_same_seeds(tmp_path, monkeypatch, capsys):
    """examples/first_clicks.py: the expert against itself lands on its own spot every time; a policy that clicks
    elsewhere is counted by where its click went, and a first action that is not a click as no click."""
    from test_learning_loop import load_example  # pytest puts each test folder on sys.path (no __init__.py here)

    r = runner.invoke(app, ["eval", "--policy", "expert", "--env", "miniwob/click-option", "--episodes", "3",
                            "--out", str(tmp_path / "ex")])
    assert r.exit_code == 0, r.output
    script = load_example("first_clicks")
    expert_run = str(tmp_path / "ex" / "expert" / "miniwob" / "run")
    expert = script.first_clicks(expert_run)
    assert len(expert) == 3 and all(click is not None for click in expert.values())
    assert script.compare(expert, expert, 40, 60) == {"miniwob/click-option": {"spot": 3, "row": 0, "other row": 0,
                                                                               "no click": 0}}
    (s0, c0), (s1, c1), (s2, c2) = sorted(expert.items())
    moved = {s0: (c0[0] + 300, c0[1]), s1: (c1[0], c1[1] + 300), s2: None}
    assert script.compare(expert, moved, 40, 60) == {"miniwob/click-option": {"spot": 0, "row": 1, "other row": 1,
                                                                              "no click": 1}}
    monkeypatch.setattr("sys.argv", ["first_clicks.py", expert_run, expert_run])
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line
    script.main()
    row = next(line for line in capsys.readouterr().out.splitlines() if "miniwob/click-option" in line)
    assert [cell.strip() for cell in row.split("│")[3:7]] == ["3", "0", "0", "0"]
