"""Generated BabyAI questions: every answer is checked against the level's own (absolute) grid, not the
egocentric one the generator reads, so a wrong turn in its coordinate change would fail here."""

import json
import random
import re
from collections import Counter

import pytest
from minigrid.core.constants import DIR_TO_VEC

from viragent.agent.datasets import load_sft, mixture_env_options
from viragent.agent.grid_questions import ask, describe, generate_grid_questions, generate_text_questions
from viragent.environments.embodied.babyai import BabyAIEnv
from test_learning_loop import load_example  # pytest puts each test folder on sys.path (no __init__.py here)


def absolute_cell(env: BabyAIEnv, ahead: int, right: int):
    """The level's cell `ahead` cells in front of the agent and `right` cells to its right."""
    (fx, fy) = DIR_TO_VEC[env.level.agent_dir]
    rx, ry = -fy, fx  # the agent's right, a quarter turn clockwise on minigrid's y-down grid
    x, y = env.level.agent_pos
    return env.level.grid.get(int(x + ahead * fx + right * rx), int(y + ahead * fy + right * ry))


@pytest.mark.parametrize("family", ["goto", "pickup", "putnext"])
def test_answers_agree_with_the_level_grid(family):
    rng, checked = random.Random(0), {"front": 0, "match": 0, "where": 0}
    for start in ("object", "level"):
        env = BabyAIEnv(family, view="agent", start=start)
        for seed in range(500000, 500015):
            env.reset(seed=seed)
            for _ in range(6):
                question, answer = ask(env, rng)
                if question == "What is in front of you?":
                    assert answer == describe(absolute_cell(env, 1, 0))
                    checked["front"] += 1
                elif question.startswith("Is the"):
                    named = re.fullmatch(r"Is the (\w+) (\w+) in front of you\?", question).groups()
                    front = absolute_cell(env, 1, 0)
                    truth = front is not None and (front.color, front.type) == named
                    assert answer == ("yes" if truth else "no")
                    checked["match"] += 1
                else:
                    colour, kind = re.fullmatch(r"Where is the (\w+) (\w+)\?", question).groups()
                    if answer != "not in view":
                        ahead = right = 0
                        for number, word in re.findall(r"(\d+) (ahead|left|right)", answer):
                            ahead += int(number) if word == "ahead" else 0
                            right += {"right": int(number), "left": -int(number)}.get(word, 0)
                        cell = absolute_cell(env, ahead, right)
                        assert (cell.color, cell.type) == (colour, kind), (question, answer)
                    checked["where"] += 1
    assert min(checked.values()) >= 10, checked


def test_match_questions_are_balanced_and_ask_about_near_misses():
    rng, answers, near = random.Random(1), [], 0
    env = BabyAIEnv("pickup", view="agent", start="object")
    for seed in range(500000, 500150):
        env.reset(seed=seed)
        question, answer = ask(env, rng)
        if question.startswith("Is the"):
            answers.append(answer)
            front = absolute_cell(env, 1, 0)
            colour, kind = question.split()[2:4]
            near += answer == "no" and front is not None and (colour == front.color) != (kind == front.type)
    assert answers.count("yes") >= 0.35 * len(answers) and answers.count("no") >= 0.35 * len(answers)
    assert near >= 0.25 * len(answers)  # a "no" is mostly one word away from the object in front


def test_generated_dataset_is_internvl_sft_in_the_egocentric_view(tmp_path):
    meta = generate_grid_questions(tmp_path, 30, questions_per_scene=2, image_position="last")
    lines = [json.loads(line) for line in open(meta["annotation"])]
    assert len(lines) == meta["length"] == 30 and len({line["image"] for line in lines}) == 15
    assert all(line["conversations"][0]["value"].endswith("\n<image>\nNext action:") for line in lines)
    assert all(line["conversations"][1]["value"].startswith('done(answer="') for line in lines)
    samples = load_sft(tmp_path / "babyai_questions_meta.json")
    assert len(samples) == 30 and samples[0]["image"]
    # Drawn in the egocentric view: a mixture with full-view BabyAI data is refused like any other disagreement.
    assert mixture_env_options([str(tmp_path / "babyai_questions_meta.json")]) == {"babyai": {"view": "agent"}}
    other = tmp_path / "full_meta.json"
    other.write_text(json.dumps({"full": {"annotation": "x", "length": 0, "env_options": {"babyai": {}}}}))
    with pytest.raises(ValueError, match="collect them with the same"):
        mixture_env_options([str(tmp_path / "babyai_questions_meta.json"), str(other)])


def test_text_questions_answer_from_the_named_object_in_the_prompt(tmp_path):
    """The pure-text questions: no image; the answer names what the prompt says is in front, then says yes
    exactly when the question names that object (a door's state aside), and both answers are common."""
    from typer.testing import CliRunner

    from viragent.agent.cli import app

    result = CliRunner().invoke(app, ["screens", "--world", "text", "--samples", "400", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    samples = load_sft(tmp_path / "text_questions_meta.json")
    assert len(samples) == 400 and not any("image" in s for s in samples)
    said = Counter()
    for sample in samples:
        prompt, answer = (turn["value"] for turn in sample["conversations"])
        asked = re.search(r"Task: Is the (\w+ \w+) in front of you\?", prompt).group(1)
        front = re.search(r"In front of you: (.+)\.\nNext action:$", prompt).group(1)
        match = re.fullmatch(r'In front: (.+)\. done\(answer="(yes|no)"\)', answer)
        assert "<image>" not in prompt and match.group(1) == front
        named = front.replace(" (open)", "").replace(" (closed)", "")
        assert match.group(2) == ("yes" if asked == named else "no"), (prompt, answer)
        said[match.group(2)] += 1
        said["door"] += "door" in front
    assert min(said["yes"], said["no"]) > 150 and 60 < said["door"] < 140
    # The same seed writes the same questions: the recipe's data is reproducible.
    again = generate_text_questions(tmp_path / "again", 400)
    assert open(again["annotation"]).read() == (tmp_path / "text_questions.jsonl").read_text()


@pytest.mark.parametrize("text", ['done(answer="no")', 'In front: red ball. done(answer="no")'])
def test_question_probe_scores_the_parsed_answer(text):
    """A policy that answers "no" to everything, with or without a thought first, is right on exactly the match
    questions whose answer is no."""
    from viragent.agent.policies import PolicyOutput

    class AlwaysNo:
        def act(self, observation, history):
            return PolicyOutput.from_text(text)

    probe = load_example("babyai_question_probe")
    counts = probe.score(AlwaysNo(), 40, seed=600000)
    front, match, where = probe.KINDS.values()
    assert counts[front] + counts[match] + counts[where] == 40 and min(counts[match], counts[f"{match} no"]) > 0
    assert counts[f"{match} right"] == counts[f"{match} no"] < counts[match]
    assert counts[f"{front} right"] == counts[f"{where} right"] == 0


def test_match_study_data_is_balanced_and_consistent(tmp_path):
    """examples/babyai_match_study.py data: every scene has an object in front; "yes" exactly when the question
    names it; the `asked` answers copy the question's words."""
    study = load_example("babyai_match_study")
    study.write_data(tmp_path, 40, "asked")
    samples = [json.loads(line) for line in open(tmp_path / "match.jsonl")]
    answers = Counter()
    for sample in samples:
        question = sample["conversations"][0]["value"]
        said = re.fullmatch(r'In front: (.+)\. Asked: (.+)\. done\(answer="(yes|no)"\)',
                            sample["conversations"][1]["value"])
        front, asked, answer = said.groups()
        assert f"Is the {asked} in front of you?" in question and front not in ("wall", "nothing")
        assert answer == ("yes" if set(asked.split()) <= set(front.split()) else "no")
        answers[answer] += 1
    assert len(samples) == 40 and min(answers.values()) >= 10


def test_other_fronts_are_named_by_the_target_or_not_as_drawn():
    """look_first's objects: one the target names matches it (a door closed, a missing colour or type drawn), one
    it does not name never does, and the near misses are one word away."""
    import random

    from viragent.agent.look_first import acts_on_target, matches, object_named, object_not_named

    rng = random.Random(0)
    for target in ("red ball", "ball", "grey door", "door", "key"):
        named = [object_named(target, rng) for _ in range(50)]
        assert all(matches(target, front) for front in named)
        assert all(not matches(target, object_not_named(target, rng)) for _ in range(200))
    assert object_named("grey door", rng) == "grey door (closed)" and matches("door", "red door (open)")
    assert not matches("red ball", "red box") and not matches("red ball", "blue ball")
    assert acts_on_target("put the red ball next to the green key", "red ball")
    assert not acts_on_target("put the red ball next to the green key", "green key")
    assert acts_on_target("pick up a key, then go to the blue box", "key")
    assert not acts_on_target("go to the purple ball", "purple ball")


def test_other_missions_keep_the_screen_and_change_the_target(tmp_path):
    """look_first.other_missions: the step's screen and true front stay; the mission names the object in front
    ("match: yes" and pickup) or another ball, box or key ("no" and a turn); nothing for a go-to or a wall."""
    import random

    from viragent.agent.look_first import matches, other_missions

    screen = tmp_path / "s.png"
    screen.write_bytes(b"png")
    step = {"episode_id": "e", "step": 3, "env_id": "babyai/putnext", "target": "red ball", "front": "grey key",
            "on_target": False}
    asked = {"instruction": "put the red ball next to the green key", "history": ["forward()"], "image": "last"}
    copies = other_missions("r", step, asked, screen, 40, random.Random(0))
    assert len(copies) == 40 and all(c["image"] == str(screen.resolve()) for c in copies)
    said = set()
    for copy in copies:
        prompt, answer = (turn["value"] for turn in copy["conversations"])
        target = answer.removeprefix("Target: ").split(",")[0]
        assert prompt.startswith(f"Task: put the {target} next to the green key\n")
        assert prompt.endswith("\nIn front of you: grey key.\n<image>\nNext action:")
        assert target.split()[-1] in ("ball", "box", "key")
        assert answer.endswith("match: yes. pickup()") == matches(target, "grey key")
        said.add(answer.split("match: ")[1].split(".")[0])
    assert said == {"yes", "no"}
    go_to = {**step, "env_id": "babyai/goto"}
    assert other_missions("r", go_to, {**asked, "instruction": "go to the red ball"}, screen, 4, random.Random(0)) == []
    assert other_missions("r", {**step, "front": "wall", "on_target": None}, asked, screen, 4, random.Random(0)) == []


def test_doors_are_named_colour_first_and_earlier_runs_read_alike(tmp_path):
    """A door is "red door (closed)": its colour first, as a ball's is (examples/EXPERIMENTS.md "Look first": named
    state first, the colour went unread). Fronts logged the earlier way are rewritten; a closed door facing "open the
    red door" gets copies that toggle it, an open one none."""
    import random

    from viragent.agent.look_first import other_fronts, other_missions
    from viragent.environments.embodied.babyai import colour_first, door_state, grid_object, object_words

    assert describe(grid_object("door", "red", 1)) == "red door (closed)"
    assert describe(grid_object("door", "grey", 2)) == "grey door (locked)"
    assert colour_first("closed red door") == "red door (closed)" and colour_first("open the door") == "open the door"
    assert colour_first("red door (open)") == "red door (open)" and colour_first("red ball") == "red ball"
    assert object_words("blue door (open)") == "blue door" and door_state("blue door (open)") == "open"
    assert door_state("blue box") is None
    screen = tmp_path / "s.png"
    screen.write_bytes(b"png")
    step = {"episode_id": "e", "step": 0, "env_id": "babyai/open", "target": "blue door",
            "front": "blue door (closed)", "on_target": True}
    asked = {"instruction": "open the blue door", "history": [], "image": "last"}
    answers = {c["conversations"][1]["value"] for c in other_missions("r", step, asked, screen, 30, random.Random(0))}
    assert "Target: blue door, match: yes. toggle()" in answers
    assert all(a.endswith("toggle()") == a.startswith("Target: blue door,") for a in answers)
    assert other_missions("r", {**step, "front": "blue door (open)"}, asked, screen, 4, random.Random(0)) == []
    for copy in other_fronts("r", step, asked, 40, random.Random(0)):
        prompt, answer = (turn["value"] for turn in copy["conversations"])
        front = prompt.split("In front of you: ")[1].split(".\n")[0]
        assert answer.endswith("toggle()") == (object_words(front) == "blue door"), (front, answer)
