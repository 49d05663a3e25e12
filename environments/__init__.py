"""viragent.environments — worlds that take Actions and give observations (Gymnasium API).

Importing this package registers the suites (`viragent tasks`) and the Gymnasium ids
`viragent/miniwob-<task>-v0` and `viragent/browser-v0`.
"""

import gymnasium as gym

from .core import (
    SUITES, ExpertStuck, ExpertUnavailable, Observation, Suite, TaskNotFound, make_env, parse_env_id, register_suite,
)
from .browser import BrowserCrashed, BrowserEnv, BrowserNotFound, MiniWoBEnv, miniwob_tasks


def _experts() -> list[str]:
    from .browser.miniwob_experts import EXPERTS

    return sorted(EXPERTS)


register_suite(Suite(
    name="miniwob",
    description="MiniWoB++ web tasks (the miniwob wheel's pages) in real Chromium",
    list_tasks=miniwob_tasks,
    make=lambda task, **kw: MiniWoBEnv(task, **kw),
    expert_tasks=_experts,
))


def _make_babyai(task: str, **kw):
    from .embodied import BabyAIEnv

    return BabyAIEnv(task, **kw)


def _babyai_tasks() -> list[str]:
    from .embodied.babyai import FAMILIES

    return list(FAMILIES)


register_suite(Suite(
    name="babyai",
    description="BabyAI grid worlds (minigrid): the five BALROG task families, BabyAIBot as expert",
    list_tasks=_babyai_tasks,
    make=_make_babyai,
    expert_tasks=_babyai_tasks,
))

def _make_desktop(task: str, **kw):
    from .desktop import DesktopEnv

    return DesktopEnv(task, **kw)


def _desktop_tasks() -> list[str]:
    from .desktop.env import TASKS

    return list(TASKS)


register_suite(Suite(
    name="desktop",
    description="Tk programs on a private Xvfb display, pyautogui input, mss screenshots",
    list_tasks=_desktop_tasks,
    make=_make_desktop,
    expert_tasks=_desktop_tasks,
))

# The generic adapter, shown on one classic-control env: CartPole with the arrow keys.
GYM_ADAPTED = {
    "cartpole": ("CartPole-v1", "Keep the pole upright: press left or right to push the cart.",
                 {"key:left": 0, "key:right": 1}),
}


def _make_adapted(task: str, max_steps: int = 200, **kw):
    from .embodied import DiscreteGymEnv

    env_id, instruction, actions = GYM_ADAPTED[task]
    return DiscreteGymEnv(env_id, instruction, actions, max_steps=max_steps, **kw)


register_suite(Suite(
    name="gym",
    description="any Discrete Gymnasium env through DiscreteGymEnv (instruction + action names)",
    list_tasks=lambda: list(GYM_ADAPTED),
    make=_make_adapted,
))


def _register_gym_ids() -> None:
    # nondeterministic=True: a seeded reset gives the same page, but the wall-clock time limit and
    # info["elapsed"] depend on how fast the machine is.
    if "viragent/browser-v0" in gym.registry:
        return
    gym.register(id="viragent/browser-v0", entry_point="viragent.environments.browser.env:BrowserEnv",
                 nondeterministic=True)
    for task in miniwob_tasks():
        gym.register(id=f"viragent/miniwob-{task}-v0", entry_point="viragent.environments.browser.miniwob:MiniWoBEnv",
                     kwargs={"task": task}, nondeterministic=True)
    for task in _desktop_tasks():
        gym.register(id=f"viragent/desktop-{task}-v0", entry_point="viragent.environments.desktop.env:DesktopEnv",
                     kwargs={"task": task}, nondeterministic=True)
    for family in _babyai_tasks():
        gym.register(id=f"viragent/babyai-{family}-v0", entry_point="viragent.environments.embodied.babyai:BabyAIEnv",
                     kwargs={"family": family})


_register_gym_ids()

__all__ = ["SUITES", "ExpertStuck", "ExpertUnavailable", "Observation", "Suite", "TaskNotFound", "make_env", "parse_env_id",
           "register_suite", "BrowserCrashed", "BrowserEnv", "BrowserNotFound", "MiniWoBEnv", "miniwob_tasks"]
