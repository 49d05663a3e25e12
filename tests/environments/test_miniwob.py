"""The MiniWoB suite in real Chromium: seeding, the Gymnasium contract, errors, crashes."""

import gymnasium as gym
import numpy as np
import pytest

import viragent.environments  # noqa: F401  (registers the gym ids)
from viragent.environments import BrowserCrashed, BrowserNotFound, MiniWoBEnv, TaskNotFound, make_env
from viragent.environments.browser import chromium
from viragent.tools import Click, Done, Forward


@pytest.fixture(scope="module")
def env():
    e = make_env("miniwob/click-button")
    yield e
    e.close()


def test_reset_gives_the_task_area_and_instruction(env):
    obs, info = env.reset(seed=3)
    assert obs["screenshot"].shape == (210, 160, 3) and obs["screenshot"].dtype == np.uint8
    assert obs["instruction"].startswith("Click on the") and obs["instruction"].endswith("button.")
    assert info["task"] == "miniwob/click-button" and info["success"] is False
    assert env.observation_space.contains(obs)


def test_same_seed_same_problem_other_seed_other_problem(env):
    first, _ = env.reset(seed=11)
    other, _ = env.reset(seed=12)
    again, _ = env.reset(seed=11)
    assert first["instruction"] == again["instruction"]
    assert np.array_equal(first["screenshot"], again["screenshot"])
    assert not np.array_equal(first["screenshot"], other["screenshot"])


def test_expert_click_succeeds_through_coordinates(env):
    env.reset(seed=5)
    action = env.unwrapped.expert_action()
    assert isinstance(action, Click) and 0 <= action.x <= 1 and 0 <= action.y <= 1
    _, reward, terminated, truncated, info = env.step(action.model_dump())  # dicts are accepted too
    assert terminated and not truncated and reward == 1.0 and info["success"] is True
    assert isinstance(env.unwrapped.expert_action(), Done)


def test_text_regions_are_the_words_where_they_are_drawn(env):
    _, info = env.reset(seed=5)
    assert "regions" not in info  # opt-in: a plain env pays nothing for them
    env = make_env("miniwob/click-button", text_regions=True)
    try:
        obs, info = env.reset(seed=5)
        words = [r["text"] for r in info["regions"]]
        target = obs["instruction"].split('"')[1]
        assert words[:len(obs["instruction"].split())] == [w.strip('".') for w in obs["instruction"].split()]
        # the expert's click lands inside a region naming the target: the button's own label
        click = env.unwrapped.expert_action()
        x, y = click.x * 1000, click.y * 1000
        inside = [r["text"] for r in info["regions"]
                  if r["box"][0] <= x <= r["box"][2] and r["box"][1] <= y <= r["box"][3]]
        assert inside == [target]
        # ink under each region: the boxes are where the text is drawn
        for region in info["regions"]:
            x0, y0, x1, y1 = (round(v * s / 1000) for v, s in zip(region["box"], (160, 210, 160, 210)))
            assert (obs["screenshot"][y0:y1 + 1, x0:x1 + 1] < 128).any(), region
        _, _, _, _, info = env.step(click)
        assert "regions" in info
    finally:
        env.close()


def test_wrong_click_fails_the_task(env):
    env.reset(seed=5)
    target = env.unwrapped.expert_action()
    # The query bar at the top is never a button; clicking a wrong button ends with raw reward -1.
    _, reward, terminated, _, info = env.step(Click(x=target.x, y=0.05))
    assert not terminated and reward == 0.0 and info["success"] is False


def test_unsupported_action_is_a_reported_no_op(env):
    env.reset(seed=1)
    _, reward, terminated, truncated, info = env.step(Forward())
    assert "cannot execute 'forward'" in info["action_error"]
    assert not terminated and reward == 0.0


def test_step_limit_truncates():
    env = make_env("miniwob/click-button", max_steps=2)
    try:
        env.reset(seed=0)
        assert env.step(Click(x=0.01, y=0.01))[3] is False
        assert env.step(Click(x=0.01, y=0.01))[3] is True
    finally:
        env.close()


def test_gymnasium_make_and_checker():
    env = gym.make("viragent/miniwob-click-test-v0")
    try:
        obs, info = env.reset(seed=0)
        assert obs["instruction"] == "Click the button."
        from gymnasium.utils.env_checker import check_env

        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_unknown_task_lists_the_available_ones():
    with pytest.raises(TaskNotFound) as err:
        make_env("miniwob/click-buton")
    assert "click-button" in str(err.value) and "Available" in str(err.value)
    with pytest.raises(TaskNotFound, match="available suites"):
        make_env("nosuch/task")
    with pytest.raises(TaskNotFound):
        MiniWoBEnv("not-a-task")


def test_missing_browser_error_names_all_three_fixes(monkeypatch):
    monkeypatch.delenv("VIRAGENT_CHROMIUM", raising=False)
    monkeypatch.setattr(chromium, "SYSTEM_CHROMIUM", ())
    monkeypatch.setattr(chromium.shutil, "which", lambda name: None)
    with pytest.raises(BrowserNotFound) as err:
        chromium.find_chromium(managed="/nonexistent/playwright/chrome")
    message = str(err.value)
    assert "apt-get install chromium" in message and "VIRAGENT_CHROMIUM" in message and "playwright install" in message


def test_bad_chromium_env_var_is_named(monkeypatch):
    monkeypatch.setenv("VIRAGENT_CHROMIUM", "/nonexistent/chrome")
    with pytest.raises(BrowserNotFound, match="VIRAGENT_CHROMIUM=/nonexistent/chrome"):
        chromium.find_chromium()
    env = make_env("miniwob/click-test")
    with pytest.raises(BrowserNotFound):
        env.reset(seed=0)
    env.close()


def test_killed_browser_raises_then_reset_relaunches(kill_browser):
    env = make_env("miniwob/click-test")
    try:
        env.reset(seed=0)
        assert kill_browser() > 0
        with pytest.raises(BrowserCrashed, match="reset"):
            env.step(Click(x=0.5, y=0.5))
        obs, _ = env.reset(seed=0)  # a fresh browser
        assert obs["instruction"] == "Click the button."
    finally:
        env.close()
