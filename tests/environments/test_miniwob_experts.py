"""Each scripted expert reaches >= 95 % success over 50 seeds, acting only through env.step(Action)."""

import pytest

from viragent.environments import make_env
from viragent.environments.browser.miniwob_experts import EXPERTS, Page, click
from viragent.tools import Click

EXPERT_TASKS = sorted(EXPERTS)
SEEDS = range(50)


@pytest.mark.slow
@pytest.mark.parametrize("task", EXPERT_TASKS)
def test_expert_success_rate(task):
    env = make_env(f"miniwob/{task}", max_steps=12)
    wins = 0
    try:
        for seed in SEEDS:
            env.reset(seed=seed)
            for _ in range(12):
                action = env.unwrapped.expert_action()
                assert action.type in ("click", "type", "key", "done")
                _, _, terminated, truncated, info = env.step(action)
                if terminated or truncated:
                    break
            wins += bool(info["success"])
    finally:
        env.close()
    assert wins / len(SEEDS) >= 0.95, f"{task}: {wins}/{len(SEEDS)}"


def test_the_fifteen_tasks_of_the_foundation_issue_have_experts():
    assert set(EXPERT_TASKS) == {
        "click-test", "click-test-2", "click-button", "click-button-sequence", "click-link", "click-dialog",
        "click-dialog-2", "click-tab", "click-checkboxes", "click-option", "focus-text", "focus-text-2",
        "enter-text", "enter-password", "login-user",
    }


def _page(elements, utterance):
    return Page({"utterance": utterance, "done": False, "elements": elements, "pushed": None})


def _button(text, x):
    return {"tag": "button", "id": "", "cls": "", "text": text, "type": "submit", "value": "", "checked": False,
            "focused": False, "selected_all": False, "label": None, "box": [x, 0.5, 0.1, 0.1], "point": [x, 0.5]}


def test_text_matching_is_anchored_not_substring():
    # "ok" must not match "book" or "okay": only the button whose whole text is "ok".
    page = _page([_button("book", 0.1), _button("okay", 0.3), _button("ok", 0.7)], 'Click on the "ok" button.')
    assert EXPERTS["click-button"](page) == Click(x=0.7, y=0.5)


def test_click_clamps_points_into_the_unit_square():
    assert click({"point": [1.0000001, -0.0]}) == Click(x=1.0, y=0.0)


def test_expert_gives_a_grounded_point_inside_the_target():
    env = make_env("miniwob/click-test")
    try:
        env.reset(seed=7)
        a = env.unwrapped.expert_action()
        box = env.unwrapped.page.evaluate(
            "() => { const r = document.getElementById('subbtn').getBoundingClientRect();"
            " return [r.left / 160, r.top / 210, r.right / 160, r.bottom / 210]; }")
        assert box[0] <= a.x <= box[2] and box[1] <= a.y <= box[3]
    finally:
        env.close()
