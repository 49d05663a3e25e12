"""What every environment shares: the Observation the agent sees, the error families, the suite registry.

Environments are `gymnasium.Env`s whose `step()` takes an Action (or its dict). Their observation is the
Gymnasium dict `{"screenshot": HxWx3 uint8, "instruction": str}` (so spaces, checkers and vector envs work);
`Observation.from_gym(obs, info)` adds the info dict for the agent side.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Callable

import gymnasium as gym
import numpy as np


@dataclass
class Observation:
    screenshot: np.ndarray  # H x W x 3, uint8
    instruction: str
    info: dict = field(default_factory=dict)  # plain data: url, task, elapsed, element boxes, ...

    @classmethod
    def from_gym(cls, obs: dict, info: dict | None = None) -> "Observation":
        return cls(screenshot=obs["screenshot"], instruction=str(obs["instruction"]), info=dict(info or {}))


def observation_space(height: int, width: int) -> gym.spaces.Dict:
    return gym.spaces.Dict({
        "screenshot": gym.spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8),
        # Instructions are printable ASCII in every suite we ship; a space needs a finite charset.
        "instruction": gym.spaces.Text(max_length=4096, min_length=0, charset=string.printable),
    })


def checked_action(action, supported: frozenset[str] | set[str] | dict, who: str):
    """(Action, None) when `who` can execute it, else (None, the reason): the env reports it as a no-op.

    Accepts an Action or its dict; a malformed dict is reported the same way, never raised, so a bad model
    output cannot crash a run (or a vector env's other sub-envs).
    """
    from viragent.tools import action_from_dict

    try:
        action = action_from_dict(action)
    except Exception as exc:
        return None, f"invalid action: {exc}"
    if action.type not in supported:
        return None, f"{who} cannot execute {action.type!r}; it takes {sorted(supported)}"
    return action, None


class TaskNotFound(KeyError):
    """An env id names a suite or task that does not exist. The message lists what does."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class ExpertUnavailable(RuntimeError):
    """This task has no scripted expert; use another policy or a task listed in the message."""


class ExpertStuck(RuntimeError):
    """The expert exists but cannot act in this state (its target is missing or hidden on this seed)."""


@dataclass
class Suite:
    """A family of tasks: `name/task` ids, a factory that builds one env, and the tasks with an expert."""

    name: str
    description: str
    list_tasks: Callable[[], list[str]]
    make: Callable[..., gym.Env]
    expert_tasks: Callable[[], list[str]] = lambda: []


SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite) -> None:
    SUITES[suite.name] = suite


def parse_env_id(env_id: str) -> tuple[Suite, str]:
    """'miniwob/click-button' -> (the miniwob Suite, 'click-button'), or TaskNotFound naming the choices."""
    suite_name, _, task = env_id.partition("/")
    if suite_name not in SUITES:
        raise TaskNotFound(f"unknown environment suite {suite_name!r} in {env_id!r}; "
                           f"available suites: {sorted(SUITES)} (write SUITE/TASK, e.g. miniwob/click-button)")
    suite = SUITES[suite_name]
    tasks = suite.list_tasks()
    if task not in tasks:
        close = [t for t in tasks if task and (task in t or t in task)][:10]
        hint = f" Did you mean one of {close}?" if close else ""
        raise TaskNotFound(f"unknown task {task!r} in suite {suite_name!r}.{hint} "
                           f"Available: {', '.join(tasks)}. `viragent tasks` lists every suite and task.")
    return suite, task


def make_env(env_id: str, **kwargs) -> gym.Env:
    """Build one env; `kwargs` are its suite's options (e.g. BabyAI's view="agent"), checked by the env itself."""
    suite, task = parse_env_id(env_id)
    try:
        return suite.make(task, **kwargs)
    except TypeError as exc:
        unknown = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if not unknown:
            raise
        raise ValueError(f"{env_id} has no option {unknown.group(1)!r} ({exc}); remove it, or see the "
                         f"{suite.name} env's constructor for the options it has") from exc
