"""viragent.environments — worlds that take Actions and give observations (Gymnasium API).

Importing this package registers the suites (`viragent tasks`) and the Gymnasium ids
`viragent/miniwob-<task>-v0` and `viragent/browser-v0`.
"""

import gymnasium as gym

from .core import (
    SUITES, ExpertUnavailable, Observation, Suite, TaskNotFound, make_env, parse_env_id, register_suite,
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


_register_gym_ids()

__all__ = ["SUITES", "ExpertUnavailable", "Observation", "Suite", "TaskNotFound", "make_env", "parse_env_id",
           "register_suite", "BrowserCrashed", "BrowserEnv", "BrowserNotFound", "MiniWoBEnv", "miniwob_tasks"]
