"""The desktop suite on a real Xvfb display: Tk programs, pyautogui input, mss screenshots."""

import os
from pathlib import Path

import pytest

from viragent.environments import TaskNotFound, make_env
from viragent.environments.desktop import TASKS, VirtualDisplay
from viragent.tools import Click, Type


@pytest.mark.parametrize("task", TASKS)
def test_expert_success_rate(task):
    env = make_env(f"desktop/{task}")
    wins = 0
    try:
        for seed in range(30):
            env.reset(seed=seed)
            for _ in range(15):
                _, _, terminated, truncated, info = env.step(env.unwrapped.expert_action())
                if terminated or truncated:
                    break
            wins += info["success"]
    finally:
        env.close()
    assert wins / 30 >= 0.95, f"{task}: {wins}/30"


def test_env_owns_its_display_and_tears_it_down():
    before = os.environ.get("DISPLAY")
    env = make_env("desktop/form")
    obs, info = env.reset(seed=0)
    display = info["display"]
    number = display.lstrip(":")
    assert Path(f"/tmp/.X11-unix/X{number}").exists()
    assert obs["screenshot"].shape == (480, 640, 3) and obs["screenshot"].max() > 0
    env.close()
    assert not Path(f"/tmp/.X11-unix/X{number}").exists()
    assert os.environ.get("DISPLAY") in (before, display)  # pyautogui needs DISPLAY at import, nothing else changed


def test_success_comes_from_the_program_not_pixels():
    env = make_env("desktop/text-edit")
    try:
        env.reset(seed=2)
        state = env.unwrapped.app_state()
        save = state["widgets"]["save"]
        # Click Save without editing: the program itself says the task failed.
        _, reward, terminated, _, info = env.step(Click(x=(save["x"] + save["w"] / 2) / 640, y=(save["y"] + save["h"] / 2) / 480))
        assert terminated and reward == -1.0 and info["success"] is False
    finally:
        env.close()


def test_typing_non_ascii_goes_through_xdotool():
    env = make_env("desktop/form")
    try:
        env.reset(seed=1)
        state = env.unwrapped.app_state()
        name = state["widgets"]["name"]
        env.step(Click(x=(name["x"] + 10) / 640, y=(name["y"] + name["h"] / 2) / 480))
        env.step(Type(text="Zoë"))
        assert env.unwrapped.app_state()["widgets"]["name"]["value"] == "Zoë"
    finally:
        env.close()


def test_two_displays_side_by_side():
    a, b = VirtualDisplay(), VirtualDisplay()
    try:
        assert a.start() != b.start()
    finally:
        a.stop()
        b.stop()


def test_unknown_desktop_task():
    with pytest.raises(TaskNotFound, match="form"):
        make_env("desktop/spreadsheet")
