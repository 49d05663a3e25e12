"""export --carrying: BabyAI prompts that say what the agent holds, and the policy served with them."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from viragent.agent.cli import app
from viragent.agent.datasets import load_sft
from viragent.agent.internvl_policy import InternVLPolicy
from viragent.agent.prompts import user_prompt
from viragent.agent.trajectory import load_run
from viragent.environments import Observation

runner = CliRunner()


def test_carrying_data_trains_a_policy_told_what_it_holds(tmp_path, record_prompts):
    """Each BabyAI prompt ends with what the agent held at that step (as the env logged it: nothing, then the object a
    pickup took); the checkpoint records it, and the policy served from it reads it from the env's info."""
    demos, data, ckpt = tmp_path / "demos", tmp_path / "data", tmp_path / "ckpt"
    # wrong pickups: the demonstrations hold objects the mission does not want, then put them down
    r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "putnext", "--episodes", "2", "--max-steps",
                            "64", "--env-option", "view=agent", "--env-option", "start=object", "--wrong-pickups",
                            "0.5", "--out", str(demos)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--image", "last", "--carrying"])
    assert r.exit_code == 0, r.output
    run = load_run(demos)
    steps = sorted(run.steps.to_pylist(), key=lambda s: (s["episode_id"], s["step"]))
    logged = {f"{run.manifest['run_id']}/{s['episode_id']}/{s['step']}": s for s in steps}
    # what the env logged: empty hands at the start, the object in front after a pickup of it, empty after a drop
    for before, after in zip(steps, steps[1:]):
        if before["episode_id"] != after["episode_id"]:
            assert after["carrying"] == "nothing"
        elif before["action_text"] == "pickup()" and before["carrying"] == "nothing":
            assert after["carrying"] == before["front"]
        elif before["action_text"] == "drop()":
            assert after["carrying"] == "nothing"
    samples = load_sft(data / "viragent_sft_meta.json")
    assert samples
    for sample in samples:
        step, prompt = logged[sample["id"]], sample["conversations"][0]["value"]
        assert prompt.endswith(f"\nYou are carrying: {step['carrying']}.\n<image>\nNext action:")
    held = {logged[s["id"]]["carrying"] for s in samples}
    assert "nothing" in held and len(held) >= 2  # both empty and full hands are in the data

    r = runner.invoke(app, ["train", "sft", "--data", str(data / "viragent_sft_meta.json"), "--steps", "2",
                            "--batch-size", "4", "--warmup", "1", "--out", str(ckpt)])
    assert r.exit_code == 0, r.output
    served = json.loads((ckpt / "final" / "viragent.json").read_text())["prompt"]
    assert served == {"image": "last", "carrying": ["babyai"]}
    policy = InternVLPolicy.from_spec(str(ckpt / "final"))
    asked = record_prompts(policy)
    screen = np.zeros((112, 112, 3), dtype=np.uint8)
    policy.act(Observation(screen, "put the red ball next to the blue key",
                           {"task": "babyai/putnext", "carrying": "red ball"}), ["pickup()"])
    assert asked == [user_prompt("put the red ball next to the blue key", ["pickup()"], image="last",
                                 carrying="red ball")]
    asked.clear()
    policy.act(Observation(screen, "Click the button.", {"task": "miniwob/click-button"}), [])
    assert asked == [user_prompt("Click the button.", [], image="last")]  # other suites' prompts are unchanged
    # an env that does not report it is refused with the cause, not served a prompt unlike the training data's
    with pytest.raises(ValueError, match="info has no 'carrying'"):
        policy.act(Observation(screen, "put the red ball next to the blue key", {"task": "babyai/putnext"}), [])


def test_export_carrying_refuses_a_run_that_never_logged_it(tmp_path):
    demos = tmp_path / "demos"
    r = runner.invoke(app, ["collect", "--suite", "miniwob", "--tasks", "click-test", "--episodes", "1",
                            "--out", str(demos)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", str(demos), "--out", str(tmp_path / "data"), "--carrying"])
    assert r.exit_code != 0
    assert "records nothing about what the agent holds" in r.output and "--carrying" in r.output
    assert not (tmp_path / "data" / "viragent_sft.jsonl").exists()  # nothing half-written
