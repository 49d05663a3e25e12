"""collect -> export -> train sft -> eval, as a user runs them (small sizes)."""

import importlib.util
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from viragent.agent.cli import app
from viragent.agent.datasets import ExportFilter, export_sft, load_sft

runner = CliRunner()


def load_example(name: str):
    """A script of examples/ as a module, so a test can call its main() as a user runs it."""
    path = Path(__file__).parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_collect_export_train_eval(tmp_path, monkeypatch):
    demos, data, ckpt, ev = tmp_path / "demos", tmp_path / "data", tmp_path / "ckpt", tmp_path / "eval"
    r = runner.invoke(app, ["collect", "--suite", "miniwob", "--tasks", "click-test,enter-text", "--episodes", "2",
                            "--out", str(demos)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((demos / "manifest.json").read_text())
    assert manifest["seed_range"] == [100000, 100001]  # training seeds, apart from evaluation's 0..

    r = runner.invoke(app, ["export", str(demos), "--out", str(data)])
    assert r.exit_code == 0, r.output
    meta = json.loads((data / "viragent_sft_meta.json").read_text())["viragent_sft"]
    lines = [json.loads(line) for line in open(meta["annotation"])]
    assert meta["length"] == len(lines) == 2 * 1 + 2 * 3  # click-test: click; enter-text: click, type, submit
    first = lines[0]
    assert first["conversations"][0]["value"].startswith("<image>\nTask: Click the button.")
    assert first["conversations"][1]["value"].startswith("click(x=")
    # collect recorded the screen's words, export passed them on as region-token labels
    assert [r["text"] for r in first["regions"]][:3] == ["Click", "the", "button"]

    # --retype: each typing episode again with a fresh string, copied consistently into prompt and answer.
    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--name", "retyped", "--retype", "2"])
    assert r.exit_code == 0, r.output
    retyped = [json.loads(line) for line in open(data / "retyped.jsonl")]
    # the typing step of the 2 enter-text episodes twice more; click-test types nothing
    assert len(retyped) == len(lines) + 2 * 2 * 1
    typed = {}
    for sample in retyped:
        prompt, answer = sample["conversations"][0]["value"], sample["conversations"][1]["value"]
        if answer.startswith("type("):
            text = json.loads(answer[len("type(text="):].split(", submit")[0].rstrip(")"))
            assert f'"{text}"' in prompt  # the answer types exactly the string this prompt quotes
            typed[sample["id"]] = text
        if "/retype" in sample["id"]:  # the same screen, the task with a fresh string to type
            original = next(x for x in lines if x["id"] == sample["id"].split("/retype")[0])
            assert sample["image"] == original["image"] and "Task: Enter" in prompt
            assert prompt.split("\n")[1] != original["conversations"][0]["value"].split("\n")[1]
    assert len(typed) == 2 * 3 and len(set(typed.values())) == 2 * 3  # fresh strings, none repeated
    assert all(x["conversations"][1]["value"].startswith("type(") for x in retyped if "/retype" in x["id"])
    # --retype-all-steps: the whole episode (click, type, submit) again, with the same fresh string throughout
    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--name", "whole", "--retype", "2",
                            "--retype-all-steps"])
    assert r.exit_code == 0, r.output
    whole = [json.loads(line) for line in open(data / "whole.jsonl")]
    assert len(whole) == len(lines) + 2 * 2 * 3
    copies: dict = {}
    for x in whole:
        if "/retype" in x["id"]:
            episode, _step, suffix = x["id"].rsplit("/", 2)
            copies.setdefault((episode, suffix), []).append(x["conversations"][0]["value"].split("\n")[1])
    # each copy: its three steps under one instruction, so one fresh string throughout
    assert len(copies) == 2 * 2 and all(len(v) == 3 and len(set(v)) == 1 for v in copies.values())

    r = runner.invoke(app, ["train", "sft", "--data", str(data / "viragent_sft_meta.json"), "--steps", "4",
                            "--batch-size", "4", "--warmup", "1", "--out", str(ckpt)])
    assert r.exit_code == 0, r.output
    assert (ckpt / "final" / "viragent.json").exists()
    # the position-token loss names the action grid's x cells, so it needs to know how many there are
    no_bins = runner.invoke(app, ["train", "sft", "--data", str(data / "viragent_sft_meta.json"), "--steps", "1",
                                  "--position-loss", "1", "--out", str(tmp_path / "pos")])
    assert no_bins.exit_code == 2 and "--position-loss needs --position-bins" in no_bins.output
    one_bin = runner.invoke(app, ["train", "sft", "--data", str(data / "viragent_sft_meta.json"), "--steps", "1",
                                  "--position-loss", "1", "--position-bins", "1", "--out", str(tmp_path / "pos")])
    assert one_bin.exit_code == 2 and "--position-bins must be between 2 and 1000" in one_bin.output
    # On a CPU without bf16 instructions --cpu-bf16 is emulated and slower: it still trains, with a warning.
    monkeypatch.setattr("viragent.model.train.sft.cpu_has_bf16_instructions", lambda: False)
    r = runner.invoke(app, ["train", "sft", "--init", str(ckpt / "final"), "--data", str(data / "viragent_sft_meta.json"),
                            "--steps", "2", "--batch-size", "2", "--position-loss", "1", "--position-bins", "32",
                            "--cpu-bf16", "--device", "cpu", "--out", str(tmp_path / "pos")])
    assert r.exit_code == 0, r.output
    assert "no bf16 instructions" in r.output and "slower than fp32" in r.output
    sft = json.loads((tmp_path / "pos" / "final" / "viragent.json").read_text())["sft"]
    assert sft["position_texts"][:3] == ["16", "47", "78"] and len(sft["position_texts"]) == 32
    history = json.loads((tmp_path / "pos" / "history.json").read_text())
    assert all(record["position_loss"] > 0 for record in history)

    trained = f"internvl:{ckpt / 'final'}"
    r = runner.invoke(app, ["eval", "--policy", trained, "--policy", "expert", "--env", "miniwob/click-test",
                            "--episodes", "2", "--max-steps", "2", "--out", str(ev)])
    assert r.exit_code == 0, r.output
    table = json.loads((ev / "eval.json").read_text())
    assert table["seeds"] == [0, 1] and table["policies"] == [trained, "expert"]
    assert table["success"]["expert"] == {"miniwob/click-test": 1.0}  # the ceiling column
    assert 0.0 <= table["success"][trained]["miniwob/click-test"] <= 1.0
    assert table["suite_means"]["expert"]["miniwob"] == 1.0
    markdown = (ev / "eval.md").read_text()
    assert "| miniwob/click-test |" in markdown and "| **miniwob mean** |" in markdown
    # Asking again with one more policy re-runs only the new one; the others' finished tables are reused.
    r = runner.invoke(app, ["eval", "--policy", trained, "--policy", "expert", "--policy", "random", "--env",
                            "miniwob/click-test", "--episodes", "2", "--max-steps", "2", "--out", str(ev)])
    assert r.exit_code == 0, r.output
    assert r.output.count("reusing") == 2
    assert json.loads((ev / "eval.json").read_text())["policies"] == [trained, "expert", "random"]


def test_export_filters(tmp_path):
    from viragent.agent import RunConfig, run_episodes

    run = tmp_path / "mixed"
    run_episodes(RunConfig(env_ids=["miniwob/click-test"], policy="random", episodes=3, max_steps=3, out=run, seed=4),
                 show_progress=False)
    everything = export_sft([run], tmp_path / "a", filters=ExportFilter(successful_only=False, dedupe=False))
    successful = export_sft([run], tmp_path / "b")
    capped = export_sft([run], tmp_path / "c", filters=ExportFilter(successful_only=False, max_per_task=2))
    assert everything["length"] >= successful["length"] and capped["length"] == min(2, everything["length"])
    assert len(load_sft(tmp_path / "a" / "viragent_sft_meta.json")) == everything["length"]


def test_fresh_strings_keep_the_shape():
    import random

    from viragent.agent.datasets import fresh_string_like, retyped_episode
    from viragent.tools import Click, Type

    rng = random.Random(0)
    new = fresh_string_like("Kasie3x-", rng)
    assert new != "Kasie3x-" and new[0].isupper() and new[1:5].islower() and new[5].isdigit() and new[7] == "-"
    instruction = 'Enter the username "lyda" and the password "x9Q" into the text fields and press login.'
    actions = [Click(x=0.5, y=0.3), Type(text="lyda"), Click(x=0.5, y=0.5), Type(text="x9Q"), Click(x=0.2, y=0.8)]
    new_instruction, new_actions = retyped_episode(instruction, actions, rng)
    user, password = new_actions[1].text, new_actions[3].text
    assert new_instruction == f'Enter the username "{user}" and the password "{password}" into the text fields and press login.'
    assert new_actions[0] == actions[0] and new_actions[4] == actions[4] and {user, password}.isdisjoint({"lyda", "x9Q"})
    assert retyped_episode("Click the button.", [Click(x=0.5, y=0.5)], rng) is None


def test_retyped_strings_do_not_depend_on_the_hash_seed():
    """The same export must give the same data in any process: str hashing is randomised per process."""
    import subprocess
    import sys

    script = ("import random; from viragent.agent.datasets import retyped_episode; from viragent.tools import Type\n"
              "i = 'Enter the username \"lyda\" and the password \"x9Q\" into the text fields and press login.'\n"
              "print(retyped_episode(i, [Type(text='lyda'), Type(text='x9Q')], random.Random(0))[0])")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(6)}
    assert len(outputs) == 1, outputs


def test_noisy_collection_teaches_recovery(tmp_path):
    """collect --noise: random moves in the expert's place, logged as perturbed, never exported as answers."""
    from viragent.agent.trajectory import load_run

    demos, data = tmp_path / "noisy", tmp_path / "data"
    r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "goto,putnext", "--episodes", "6",
                            "--max-steps", "64", "--noise", "0.3", "--out", str(demos)])
    assert r.exit_code == 0, r.output
    run = load_run(demos)
    steps = run.steps.to_pylist()
    perturbed = [s for s in steps if s["perturbed"]]
    assert 0 < len(perturbed) < len(steps)
    assert {s["action_text"] for s in perturbed} <= {"turn_left()", "turn_right()", "forward()"}
    # BabyAIBot, told of every executed move, still finishes each mission from wherever the noise left it.
    assert all(e["success"] for e in run.episodes.to_pylist())

    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--no-dedupe"])
    assert r.exit_code == 0, r.output
    samples = [json.loads(line) for line in open(data / "viragent_sft.jsonl")]
    assert len(samples) == len(steps) - len(perturbed)
    # collect recorded each grid object by name (the default --regions), export passed them on as labels
    assert all("wall" in {r["text"] for r in s["regions"]} for s in samples)
    exported = {s["id"] for s in samples}
    assert not any(f"{demos.name}/{s['episode_id']}/{s['step']}" in exported for s in perturbed)
    # ...but they stay in the history the later steps show: that is the mistake to recover from.
    after = next(s for s in steps if not s["perturbed"] and s["step"] > 0 and
                 any(p["episode_id"] == s["episode_id"] and p["step"] == s["step"] - 1 for p in perturbed))
    sample = next(x for x in samples if x["id"] == f"{demos.name}/{after['episode_id']}/{after['step']}")
    previous = sample["conversations"][0]["value"].split("Previous actions:\n")[1].split("\nNext action:")[0]
    assert previous.splitlines()[-1] == next(p["action_text"] for p in perturbed if p["episode_id"] ==
                                             after["episode_id"] and p["step"] == after["step"] - 1)


def test_wrong_pickups_are_collected_as_mistakes_and_the_expert_puts_them_down(tmp_path):
    """collect --wrong-pickups: facing an object the mission does not want, the collector sometimes picks it up
    (perturbed, never an answer); the expert's next answer is to put it down, with that pickup in its history."""
    import pytest

    from viragent.agent.policies import NoisyExpertPolicy
    from viragent.agent.trajectory import load_run

    demos, data = tmp_path / "recover", tmp_path / "data"
    r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "pickup,putnext", "--episodes", "8",
                            "--max-steps", "64", "--seed", "500000", "--no-regions", "--env-option", "view=agent",
                            "--env-option", "start=object", "--wrong-pickups", "0.5", "--out", str(demos)])
    assert r.exit_code == 0, r.output
    run = load_run(demos)
    assert run.manifest["config"]["policy"] == "expert+wrong-pickups0.5"
    steps = run.steps.to_pylist()
    perturbed = [s for s in steps if s["perturbed"]]
    assert perturbed and {s["action_text"] for s in perturbed} == {"pickup()"}
    assert all(s["on_target"] is False for s in perturbed)  # never the object the mission asks for
    following = {(s["episode_id"], s["step"]): s for s in steps}
    for s in perturbed:
        assert following[(s["episode_id"], s["step"] + 1)]["action_text"] == "drop()"
    assert sum(e["success"] for e in run.episodes.to_pylist()) >= 15

    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--no-dedupe", "--image", "last"])
    assert r.exit_code == 0, r.output
    samples = {json.loads(line)["id"]: json.loads(line) for line in open(data / "viragent_sft.jsonl")}
    assert not any(f"{demos.name}/{s['episode_id']}/{s['step']}" in samples for s in perturbed)
    drop = samples[f"{demos.name}/{perturbed[0]['episode_id']}/{perturbed[0]['step'] + 1}"]
    assert drop["conversations"][1]["value"] == "drop()"
    assert drop["conversations"][0]["value"].split("\n<image>")[0].endswith("pickup()")
    with pytest.raises(ValueError, match="wrong_pickups must be a probability"):
        NoisyExpertPolicy(0.0, wrong_pickups=1.5)


def test_noise_must_be_a_probability():
    import pytest

    from viragent.agent.policies import NoisyExpertPolicy

    with pytest.raises(ValueError, match="noise must be a probability"):
        NoisyExpertPolicy(1.5)


def test_collect_with_a_learner_making_the_noise_steps(tmp_path):
    """collect --noise-policy: the shipped policy makes the --noise steps (logged perturbed, with its own token
    counts), the expert the rest; a learner served in another view, or with no --noise, is refused with the fix."""
    from viragent.agent.trajectory import load_run

    demos = tmp_path / "dagger"
    base = ["collect", "--suite", "babyai", "--tasks", "goto", "--episodes", "2", "--max-steps", "64"]
    r = runner.invoke(app, base + ["--noise", "0.5", "--noise-policy", "internvl:viragent-tiny", "--env-option",
                                   "view=agent", "--out", str(demos)])
    assert r.exit_code == 0, r.output
    run = load_run(demos)
    steps = run.steps.to_pylist()
    learner = [s for s in steps if s["perturbed"]]
    expert = [s for s in steps if not s["perturbed"]]
    assert learner and expert
    assert all(s["n_tokens"] for s in learner) and not any(s["n_tokens"] for s in expert)
    manifest = json.loads((demos / "manifest.json").read_text())["config"]
    assert manifest["policy"] == "expert+noise0.5+internvl:viragent-tiny"
    assert manifest["env_kwargs"]["view"] == "agent"

    r = runner.invoke(app, base + ["--noise", "0.5", "--noise-policy", "internvl:viragent-tiny",
                                   "--out", str(tmp_path / "full-view")])
    assert r.exit_code != 0 and "--env-option view=agent" in r.output
    r = runner.invoke(app, base + ["--noise-policy", "random", "--out", str(tmp_path / "no-noise")])
    assert r.exit_code != 0 and "give --noise" in r.output


def test_eval_resume_keeps_finished_episodes(tmp_path):
    """An evaluation cut off part-way continues with --resume: the finished episodes are not run again."""
    from viragent.agent.trajectory import load_run

    ev = tmp_path / "eval"
    args = ["eval", "--policy", "expert", "--env", "babyai/goto", "--episodes", "3", "--out", str(ev)]
    assert runner.invoke(app, args).exit_code == 0
    run_dir = ev / "expert" / "babyai" / "run"
    # Cut off: the last episode's files and the tables are gone, as when the process is killed mid-episode.
    for part in sorted((run_dir / "parts").glob("episode-000003.*")):
        part.unlink()
    for name in ("eval.json", "eval.md"):
        (ev / "expert" / "babyai" / name).unlink()
    kept = {e["episode_id"]: e["wall_s"] for e in load_run(run_dir).episodes.to_pylist()}
    assert sorted(kept) == [1, 2]

    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "--resume" in again.output  # no silent overwrite of a run
    resumed = runner.invoke(app, args + ["--resume"])
    assert resumed.exit_code == 0, resumed.output
    episodes = {e["episode_id"]: e["wall_s"] for e in load_run(run_dir).episodes.to_pylist()}
    assert sorted(episodes) == [1, 2, 3] and all(episodes[i] == kept[i] for i in kept)
    assert json.loads((ev / "eval.json").read_text())["success"]["expert"] == {"babyai/goto": 1.0}


def test_babyai_direction_probe_scores_the_bot_as_perfect():
    """The probe's two numbers mean what they say: BabyAIBot itself agrees with the bot on every turned state,
    and it is not blind to direction on at least some levels."""
    probe = load_example("babyai_direction_probe")
    result = probe.main(["--policy", "expert", "--levels", "4"])
    assert result["agree"] == result["states"] == 16
    assert result["blind"] < 4


def test_babyai_image_probe_fits_what_it_was_shown(tmp_path):
    """The image probe's columns mean what they say: on its own training steps a linear probe on the visual tokens
    names every action, while random weights answer none of them."""
    demos, data = tmp_path / "demos", tmp_path / "data"
    r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "pickup", "--episodes", "3", "--max-steps", "64",
                            "--out", str(demos)])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["export", str(demos), "--out", str(data), "--name", "babyai"]).exit_code == 0
    probe = load_example("babyai_image_probe")
    meta = str(data / "babyai_meta.json")
    table = probe.main(["--policy", "tiny", "--train", meta, "--heldout", meta, "--families", "pickup"])
    assert table["pickup"]["steps"] == 3  # one pickup() per episode
    assert all(row["probe"] == 1.0 and row["policy"] == 0.0 for row in table.values())


def test_babyai_door_probe_scores_door_questions_only(tmp_path):
    """The door probe reads only "What is in front of you?" questions answered with a door, holds out the later
    scenes, and a random-weight policy names none of their colours."""
    r = runner.invoke(app, ["screens", "--world", "babyai", "--samples", "2000", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    probe = load_example("babyai_door_probe")
    samples = load_sft(str(tmp_path / "babyai_questions_meta.json"))
    doors = [s for s in samples if probe.door_answer(s)]
    assert 20 <= len(doors) < len(samples) and all("door" in s["conversations"][1]["value"] for s in doors)
    table = probe.main(["--policy", "tiny", "--questions", str(tmp_path / "babyai_questions_meta.json")])
    assert sum(row["doors"] for row in table.values()) == len(doors) - int(len(doors) * 0.8)
    assert set(table) <= {"red", "green", "blue", "purple", "yellow", "grey"}
    assert all(row["policy"] == 0.0 for row in table.values())


def test_egocentric_view_and_image_last_from_collect_to_eval(tmp_path):
    """--env-option reaches the env in collect and eval; --image last reaches the data, the checkpoint's
    viragent.json and the policy that serves it; wrong options and mixed layouts are refused with the fix."""
    from PIL import Image

    from viragent.agent.internvl_policy import InternVLPolicy
    from viragent.agent.trajectory import load_run

    demos, data, ckpt, ev = tmp_path / "demos", tmp_path / "data", tmp_path / "ckpt", tmp_path / "eval"
    r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "goto", "--episodes", "2", "--max-steps", "64",
                            "--env-option", "view=agent", "--out", str(demos)])
    assert r.exit_code == 0, r.output
    run = load_run(demos)
    assert run.manifest["config"]["env_kwargs"]["view"] == "agent"
    first_screen = run.screen_path(run.steps.to_pylist()[0]["screenshot"])
    assert Image.open(first_screen).size == (7 * 16, 7 * 16)  # the 7x7 cells in front of the agent, not the room

    for layout in ("first", "last"):
        r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--name", layout, "--image", layout])
        assert r.exit_code == 0, r.output
    last = load_sft(data / "last_meta.json")
    assert all(s["conversations"][0]["value"].endswith("\nnone\n<image>\nNext action:") for s in last[:1])
    assert all(s["conversations"][0]["value"].startswith("Task: go to") for s in last)
    bad = runner.invoke(app, ["export", str(demos), "--out", str(data), "--image", "middle"])
    assert bad.exit_code == 2 and "--image must be one of first, last" in bad.output
    # --think-front: each answer first names what the agent faced (as logged), then the same action; the prompt,
    # and the history in it, stay as they were
    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--name", "think", "--image", "last",
                            "--think-front"])
    assert r.exit_code == 0, r.output
    think, fronts = load_sft(data / "think_meta.json"), {f"{run.manifest['run_id']}/{s['episode_id']}/{s['step']}":
                                                         s["front"] for s in run.steps.to_pylist()}
    assert [s["id"] for s in think] == [s["id"] for s in last] and {"nothing", "wall"} & set(fronts.values())
    for plain, thought in zip(last, think):
        assert thought["conversations"][0] == plain["conversations"][0]
        assert thought["conversations"][1]["value"] == f"In front: {fronts[thought['id']]}. " + \
            plain["conversations"][1]["value"]
    # --think-target: the target as logged, the same front, and the comparison as its own word wherever an
    # object is in front
    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--name", "target", "--image", "last",
                            "--think-target"])
    assert r.exit_code == 0, r.output
    logged = {f"{run.manifest['run_id']}/{s['episode_id']}/{s['step']}": s for s in run.steps.to_pylist()}
    for plain, thought in zip(last, load_sft(data / "target_meta.json"), strict=True):
        step = logged[thought["id"]]
        match = "" if step["on_target"] is None else ", match: " + ("yes" if step["on_target"] else "no")
        assert thought["conversations"][1]["value"] == \
            f"In front: {step['front']}. Target: {step['target']}{match}. " + plain["conversations"][1]["value"]
        assert step["target"] in plain["conversations"][0]["value"]  # goto: the mission's own words
    # --point-targets: the centre of the logged target box becomes the sample's point, where the frame shows one
    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--name", "point", "--image", "last",
                            "--point-targets"])
    assert r.exit_code == 0, r.output
    pointed = load_sft(data / "point_meta.json")
    for plain, sample in zip(last, pointed, strict=True):
        assert sample["conversations"] == plain["conversations"]
        box = logged[sample["id"]]["target_box"]
        assert sample.get("point") == (None if box is None else
                                       [(json.loads(box)[0] + json.loads(box)[2]) // 2,
                                        (json.loads(box)[1] + json.loads(box)[3]) // 2])
    assert any("point" in s for s in pointed) and "point" not in last[0]
    old = tmp_path / "old"  # a run logged before `front` and `target` were: its steps have no such columns
    shutil.copytree(demos, old)
    for part in (old / "parts").glob("*.steps.parquet"):
        pq.write_table(pq.read_table(part).drop_columns(["front", "target", "on_target", "target_box"]), part)
    r = runner.invoke(app, ["export", str(old), "--out", str(data), "--think-front"])
    assert r.exit_code == 2 and "records nothing about what the agent faces" in r.output
    r = runner.invoke(app, ["export", str(old), "--out", str(data), "--think-target"])
    assert r.exit_code == 2 and "records nothing about what the mission asks for now" in r.output
    r = runner.invoke(app, ["export", str(old), "--out", str(data), "--look-first"])
    assert r.exit_code == 2 and "records nothing about what the agent faces" in r.output
    r = runner.invoke(app, ["export", str(old), "--out", str(data), "--point-targets"])
    assert r.exit_code == 2 and "records nothing about where the mission's object is" in r.output

    r = runner.invoke(app, ["train", "sft", "--data", str(data / "last_meta.json"), "--steps", "2", "--batch-size", "4",
                            "--warmup", "1", "--out", str(ckpt)])
    assert r.exit_code == 0, r.output
    assert json.loads((ckpt / "final" / "viragent.json").read_text())["prompt"] == {"image": "last"}
    assert InternVLPolicy.from_spec(str(ckpt / "final")).image == "last"
    mixed = runner.invoke(app, ["train", "sft", "--data", str(data / "last_meta.json"), "--data",
                                str(data / "first_meta.json"), "--steps", "1", "--out", str(tmp_path / "mixed")])
    assert mixed.exit_code == 2 and "with the same --image" in mixed.output

    # the checkpoint remembers the view its data was collected in, and eval builds its envs with it
    assert json.loads((data / "last_meta.json").read_text())["last"]["env_options"] == {"babyai": {"view": "agent"}}
    assert json.loads((ckpt / "final" / "viragent.json").read_text())["env"] == {"babyai": {"view": "agent"}}
    policy = f"internvl:{ckpt / 'final'}"
    r = runner.invoke(app, ["eval", "--policy", policy, "--env", "babyai/goto", "--episodes", "1", "--max-steps", "2",
                            "--out", str(ev)])
    assert r.exit_code == 0, r.output
    evaluated = load_run(next(ev.glob("*/babyai/run")))
    assert evaluated.manifest["policy_env_options"] == {"babyai": {"view": "agent"}}
    assert Image.open(evaluated.screen_path(evaluated.steps.to_pylist()[0]["screenshot"])).size == (112, 112)
    # the full view asked for explicitly is another evaluation: neither reused nor resumed into this one
    r = runner.invoke(app, ["eval", "--policy", policy, "--env", "babyai/goto", "--episodes", "1", "--max-steps", "2",
                            "--env-option", "view=full", "--out", str(ev), "--resume"])
    assert r.exit_code == 2 and "reusing" not in r.output
    assert "holds a run with other settings (env_kwargs: {} -> {'view': 'full'})" in r.output
    full = tmp_path / "full"
    r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "goto", "--episodes", "1", "--out", str(full)])
    assert r.exit_code == 0, r.output
    conflict = runner.invoke(app, ["export", str(demos), str(full), "--out", str(tmp_path / "both")])
    assert conflict.exit_code == 2 and "collect them with the same --env-option" in conflict.output
    # full-view data makes a full-view policy, even fine-tuned from the egocentric checkpoint
    assert runner.invoke(app, ["export", str(full), "--out", str(tmp_path / "fulldata")]).exit_code == 0
    r = runner.invoke(app, ["train", "sft", "--init", str(ckpt / "final"), "--data",
                            str(tmp_path / "fulldata" / "viragent_sft_meta.json"), "--steps", "1", "--batch-size", "2",
                            "--out", str(tmp_path / "refit")])
    assert r.exit_code == 0, r.output
    refit = json.loads((tmp_path / "refit" / "final" / "viragent.json").read_text())
    assert refit["env"] == {} and refit["prompt"] == {"image": "first"}
    wrong = runner.invoke(app, ["eval", "--policy", "expert", "--env", "babyai/goto", "--episodes", "1",
                                "--env-option", "colour=red", "--out", str(tmp_path / "wrong")])
    assert wrong.exit_code == 2 and "babyai/goto has no option 'colour'" in wrong.output
    malformed = runner.invoke(app, ["eval", "--policy", "expert", "--env", "babyai/goto", "--env-option", "agent",
                                    "--out", str(tmp_path / "malformed")])
    assert malformed.exit_code == 2 and "KEY=VALUE" in malformed.output


def test_demonstrations_started_next_to_objects_train_the_same_policy(tmp_path):
    """`--env-option start=object` moves where BabyAI demonstrations begin, not how the policy is served: its data
    exports beside the level-start data, and the checkpoint's env options leave it out."""
    import numpy as np
    from PIL import Image

    from viragent.agent.trajectory import load_run

    level, near = tmp_path / "level", tmp_path / "near"
    for out, extra in ((level, []), (near, ["--env-option", "start=object"])):
        r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "pickup", "--episodes", "2", "--max-steps",
                                "64", "--env-option", "view=agent", *extra, "--seed", "500", "--out", str(out)])
        assert r.exit_code == 0, r.output
    assert load_run(near).manifest["config"]["env_kwargs"]["start"] == "object"
    firsts = [load_run(run) for run in (level, near)]
    firsts = [np.asarray(Image.open(run.screen_path(run.steps.to_pylist()[0]["screenshot"]))) for run in firsts]
    assert not np.array_equal(*firsts)  # the same seeds, another start
    r = runner.invoke(app, ["export", str(level), str(near), "--out", str(tmp_path / "data")])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "data" / "viragent_sft_meta.json").read_text())["viragent_sft"]
    assert meta["env_options"] == {"babyai": {"view": "agent"}}


def test_look_first_data_trains_a_policy_that_asks_itself_before_acting(tmp_path, record_prompts):
    """export --look-first: each BabyAI step's prompt says what the agent faced (as logged) and its answer names the
    target; each screen is also asked the look question. The checkpoint records it, and the policy served from it
    asks the question about the screen alone first, then acts on its own answer; MiniWoB steps are asked once."""
    import numpy as np

    from viragent.agent.internvl_policy import InternVLPolicy
    from viragent.agent.look_first import matches
    from viragent.agent.prompts import LOOK_QUESTION, user_prompt
    from viragent.agent.trajectory import load_run
    from viragent.environments import Observation

    demos, data, ckpt = tmp_path / "demos", tmp_path / "data", tmp_path / "ckpt"
    r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "pickup", "--episodes", "2", "--max-steps",
                            "64", "--env-option", "view=agent", "--env-option", "start=object", "--out", str(demos)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--image", "last", "--look-first"])
    assert r.exit_code == 0, r.output
    run, samples = load_run(demos), load_sft(data / "viragent_sft_meta.json")
    logged = {f"{run.manifest['run_id']}/{s['episode_id']}/{s['step']}": s for s in run.steps.to_pylist()}
    looks = [s for s in samples if s["id"].endswith("/look")]
    acts = [s for s in samples if not s["id"].endswith("/look")]
    assert len(acts) == len(logged) and 0 < len(looks) <= len(acts)
    assert len({Path(s["image"][0]).read_bytes() for s in looks}) == len(looks)  # one question per distinct screen
    for sample in looks:
        step = logged[sample["id"].removesuffix("/look")]
        assert sample["conversations"][0]["value"] == user_prompt(LOOK_QUESTION, [], image="last")
        assert sample["conversations"][1]["value"] == f'done(answer="{step["front"]}")'
    match_words = set()
    for sample in acts:
        step, (prompt, answer) = logged[sample["id"]], [turn["value"] for turn in sample["conversations"]]
        assert prompt.startswith(f"Task: {step['instruction']}\n")
        assert prompt.endswith(f"\nIn front of you: {step['front']}.\n<image>\nNext action:")
        match = "" if step["on_target"] is None else ", match: " + ("yes" if step["on_target"] else "no")
        assert answer.startswith(f"Target: {step['target']}{match}. ") and "In front:" not in answer
        match_words.add(match)
    # the near-object start faces another object, then the named one
    assert {", match: yes", ", match: no"} <= match_words
    # --look-texts: text-only copies of the steps facing an object, in a dataset of their own, each with another
    # object in the prompt and the answer the mission's target gives for it
    r = runner.invoke(app, ["export", str(demos), "--out", str(data), "--name", "texts", "--image", "last",
                            "--look-first", "--look-texts", "3"])
    assert r.exit_code == 0, r.output
    assert [s["id"] for s in load_sft(data / "texts_meta.json")] == [s["id"] for s in samples]
    texts, facing = load_sft(data / "texts_texts_meta.json"), [s for s in logged.values() if s["on_target"] is not None]
    assert len(texts) == 3 * len(facing) and not any(s.get("image") for s in texts)
    answers = Counter()
    for sample in texts:
        prompt, answer = (turn["value"] for turn in sample["conversations"])
        step = logged[sample["id"].rsplit("/", 1)[0]]
        front = prompt.split("\nIn front of you: ")[1].removesuffix(".\nNext action:")
        assert prompt.startswith(f"Task: {step['instruction']}\n") and "<image>" not in prompt
        said = "yes" if matches(step["target"], front) else "no"
        assert answer.startswith(f"Target: {step['target']}, match: {said}. ")
        answers[said, answer.split(". ")[-1]] += 1
    assert set(answers) == {("yes", "pickup()"), ("no", "turn_left()"), ("no", "turn_right()")}

    r = runner.invoke(app, ["train", "sft", "--data", str(data / "viragent_sft_meta.json"), "--steps", "2",
                            "--batch-size", "4", "--warmup", "1", "--out", str(ckpt)])
    assert r.exit_code == 0, r.output
    served = json.loads((ckpt / "final" / "viragent.json").read_text())["prompt"]
    assert served == {"image": "last", "look": {"babyai": LOOK_QUESTION}}
    policy = InternVLPolicy.from_spec(str(ckpt / "final"))
    asked = record_prompts(policy)
    screen = np.zeros((112, 112, 3), dtype=np.uint8)
    out = policy.act(Observation(screen, "pick up the red ball", {"task": "babyai/pickup"}), ["forward()"])
    assert len(asked) == 2 and asked[0] == user_prompt(LOOK_QUESTION, [], image="last")
    before, after = user_prompt("pick up the red ball", ["forward()"], image="last", seen="\0").split("\0")
    assert asked[1].startswith(before) and asked[1].endswith(after)
    seen = asked[1][len(before):-len(after)]  # the policy's own answer, whatever a random-weight model says
    assert seen and out.raw_text.startswith(f"In front: {seen}. ")
    asked.clear()
    policy.act(Observation(screen, "Click the button.", {"task": "miniwob/click-button"}), [])
    assert asked == [user_prompt("Click the button.", [], image="last")]


def test_babyai_front_probe_scores_the_bot_as_telling_objects_apart():
    """The front probe's columns mean what they say: the bot itself picks up every object it says to pick up and
    none of the ones it leaves, and both cases occur."""
    result = load_example("babyai_front_probe").main(["--policy", "expert", "--levels", "6"])["all"]
    assert result["named"] > 0 and result["other"] > 0 and result["named"] + result["other"] == 18
    assert result["named pickup"] == result["named"] and result["other pickup"] == 0


def test_babyai_thoughts_score_true_words_as_right_and_flipped_ones_as_wrong(tmp_path):
    """babyai_thoughts reads the words a --think-target policy writes against what the env logged: the expert's
    own thoughts (what such a policy is trained to say) score all right, with every pickup counted after the match
    word it followed; the same thoughts with the match word flipped score none right."""
    from viragent.agent import load_run
    from viragent.agent.datasets import thought_answer

    demos = tmp_path / "demos"
    r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "pickup,putnext", "--episodes", "3",
                            "--max-steps", "64", "--env-option", "view=agent", "--env-option", "start=object",
                            "--out", str(demos)])
    assert r.exit_code == 0, r.output
    thoughts = load_example("babyai_thoughts")
    steps = load_run(demos).steps.to_pylist()
    for step in steps:
        step["raw_text"] = thought_answer(step, step["action_text"], with_target=True)
    row = thoughts.tally(steps)["pickup"] + thoughts.tally(steps)["putnext"]
    assert row["with a thought"] == row["steps"] == len(steps)
    assert row["target right"] == row["target said"] == len(steps) and row["front right"] == len(steps)
    assert row["facing an object"] > 0 and row["match right"] == row["facing an object"]
    assert row["object named right"] == row["facing an object"] and row["misnamed as the target"] == 0
    assert row["pickup after match: yes"] == row["pickup facing target"] > 0
    assert row["pickup after match: no"] == row["pickup facing other"]
    for step in steps:
        step["raw_text"] = step["raw_text"].replace("match: yes", "match: X").replace("match: no", "match: yes") \
            .replace("match: X", "match: no")
    flipped = thoughts.tally(steps)["pickup"]
    assert flipped["match right"] == 0 and flipped["pickup after match: no"] > 0
    for step in steps:  # what the tt run's policy did: the target's words in place of the object in front
        said = thoughts.read_thought(step["raw_text"])
        step["raw_text"] = step["raw_text"].replace(f"In front: {said['front']}.", f"In front: {said['target']}.")
    copied = thoughts.tally(steps)["pickup"]
    assert copied["misnamed as the target"] == copied["facing an object"] - copied["object named right"] > 0
    assert thoughts.read_thought("forward()") is None  # an answer without words is counted, not misread


def test_babyai_failures_replays_the_expert_as_picking_the_named_object(tmp_path):
    """The failure report reads what it says: replayed, the expert's demonstrations end as logged and its first
    pickup is always an object its mission names, in each family whose mission is built differently."""
    demos = tmp_path / "demos"
    r = runner.invoke(app, ["collect", "--suite", "babyai", "--tasks", "pickup,putnext,pick-up-then-go-to",
                            "--episodes", "2", "--max-steps", "64", "--out", str(demos)])
    assert r.exit_code == 0, r.output
    table = load_example("babyai_failures").main([str(demos)])
    assert set(table) == {"pickup success", "putnext success", "pick-up-then-go-to success"}
    for row in table.values():
        assert row["episodes"] == row["first pickup: named"] == 2
        assert "pickup while carrying" not in row and "drop with empty hands" not in row
        assert row["named picked up"] >= 2
        assert row["ends in a loop"] == 0
    assert "named dropped at once" not in table["putnext success"]  # it carries what it is to put next to another
    loop = ["turn_left()", "forward()", "forward()"] * 11
    ends_in_loop = load_example("babyai_failures").ends_in_loop
    assert ends_in_loop(loop) and ends_in_loop(["pickup()"] * 40) and not ends_in_loop(loop[:31])
    assert not ends_in_loop(["forward()"] * 20 + ["turn_left()"] * 12)
