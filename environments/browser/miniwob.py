"""MiniWoB++ tasks from the `miniwob` wheel's HTML files, served over file:// to a real Chromium.

Only the wheel's pages are used (not its Selenium environment): we seed `Math.seedrandom`, start with
`core.startEpisodeReal()`, wait for `WOB_TASK_READY`, and read `WOB_RAW_REWARD_GLOBAL` / `WOB_DONE_GLOBAL`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core import ExpertUnavailable, TaskNotFound
from .env import BrowserEnv

# The MiniWoB task area is the top-left 160x210 CSS pixels of a 500x320 window (the sizes MiniWoB's own
# environment uses: jQuery UI places dialogs against the window, so a window cut to the task area moves them).
TASK_WIDTH, TASK_HEIGHT = 160, 210
WINDOW_WIDTH, WINDOW_HEIGHT = 500, 320
_READY_TIMEOUT_MS = 5000


@lru_cache(maxsize=1)
def miniwob_html_dir() -> Path:
    try:
        import miniwob
    except ImportError as exc:
        raise TaskNotFound("the `miniwob` package is not installed: `pip install miniwob`") from exc
    return Path(miniwob.__file__).parent / "html" / "miniwob"


@lru_cache(maxsize=1)
def miniwob_tasks() -> list[str]:
    return sorted(p.stem for p in miniwob_html_dir().glob("*.html"))


class MiniWoBEnv(BrowserEnv):
    """One MiniWoB++ task. `reset(seed=s)` gives the same problem for the same seed.

    The page's own episode timer is set to `time_limit_s`, so the page and this env agree on time-outs.
    Success is the task's own verdict: raw reward 1 (`WOB_RAW_REWARD_GLOBAL == 1`).
    """

    def __init__(self, task: str, *, device_scale_factor: float = 1.0, max_steps: int = 10,
                 time_limit_s: float = 60.0, **kwargs):
        if task not in miniwob_tasks():
            close = [t for t in miniwob_tasks() if task in t][:8]
            raise TaskNotFound(f"unknown MiniWoB task {task!r}" + (f"; did you mean {close}?" if close else "")
                               + f". Available: {', '.join(miniwob_tasks())}")
        self.task = task
        url = (miniwob_html_dir() / f"{task}.html").as_uri()
        super().__init__(url, "", width=WINDOW_WIDTH, height=WINDOW_HEIGHT, region=(TASK_WIDTH, TASK_HEIGHT),
                         device_scale_factor=device_scale_factor, max_steps=max_steps,
                         time_limit_s=time_limit_s, **kwargs)

    def _on_launch(self, page) -> None:
        page.goto(self.url)
        page.wait_for_function("() => typeof core !== 'undefined' && core.cover_div !== null")

    def _start_episode(self, seed: int | None, options: dict) -> None:
        page = self.page
        # The page's seed comes from the env's RNG (seeded by reset(seed=...)), so an unseeded reset after
        # a seeded one is reproducible too, as Gymnasium requires.
        page_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        # Stop a running episode (a no-op when none runs), then seed and start the next one.
        page.evaluate(
            """([seed, maxMs]) => {
                core.endEpisode(0);
                Math.seedrandom(String(seed));
                core.EPISODE_MAX_TIME = maxMs;
                core.startEpisodeReal();
            }""",
            [page_seed, int(self.time_limit_s * 1000)],
        )
        page.wait_for_function("() => WOB_TASK_READY === true", timeout=_READY_TIMEOUT_MS)

    def _status(self) -> dict[str, Any]:
        state = self.page.evaluate(
            """() => ({done: WOB_DONE_GLOBAL, raw: WOB_RAW_REWARD_GLOBAL, reason: WOB_REWARD_REASON,
                      utterance: core.getUtterance()})"""
        )
        utterance = state["utterance"]
        if isinstance(utterance, dict):  # some tasks return {utterance, fields}
            utterance = utterance.get("utterance", "")
        done = bool(state["done"])
        return {"done": done, "reward": float(state["raw"] or 0.0), "success": done and state["raw"] == 1,
                "reason": state["reason"], "instruction": str(utterance)}

    def _info(self, status: dict[str, Any]) -> dict[str, Any]:
        info = super()._info(status)
        info.update(task=f"miniwob/{self.task}", raw_reward=status["reward"], reward_reason=status["reason"])
        return info

    # ---- demonstrations ---------------------------------------------------------------------------
    def expert_action(self):
        """The scripted expert's next action for the current page state (grounded, coordinates in [0,1])."""
        from .miniwob_experts import EXPERTS, expert_action

        if self.task not in EXPERTS:
            raise ExpertUnavailable(f"MiniWoB task {self.task!r} has no scripted expert; tasks with one: "
                                    f"{', '.join(sorted(EXPERTS))}")
        return expert_action(self.task, self.page, self.region)


def make_miniwob(task: str, **kwargs) -> MiniWoBEnv:
    return MiniWoBEnv(task, **kwargs)
