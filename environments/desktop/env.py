"""A real desktop under Xvfb: Tk task programs, screenshots with mss, input with pyautogui (xdotool fallback).

The env starts its own display (or uses one the caller names), starts the task program, and reads the
program's own state file for success and for the expert's widget geometry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
import shutil
from tempfile import mkdtemp

import gymnasium as gym
import numpy as np

from viragent.tools import to_pyautogui

from ..core import ExpertUnavailable, TaskNotFound, checked_action, observation_space
from .display import VirtualDisplay

TASKS = ("form", "dialog", "list", "text-edit", "menu", "checkboxes")
DESKTOP_ACTIONS = frozenset({"click", "move", "drag", "scroll", "type", "key", "wait", "done", "fail"})
APP = Path(__file__).parent / "apps" / "task_app.py"


def _pyautogui_on(connection):
    """pyautogui, sending its input through `connection` (an Xlib Display of this env's screen).

    pyautogui opens one X connection at import, from $DISPLAY, so DISPLAY is set first; each env then points
    pyautogui's connection at its own display before acting (pyautogui has no public API for that).
    """
    os.environ.setdefault("DISPLAY", connection.get_display_name())
    import pyautogui
    from pyautogui import _pyautogui_x11 as x11

    x11._display = connection
    pyautogui.PAUSE = 0
    pyautogui.FAILSAFE = False  # a private virtual screen: a corner is just a corner
    return pyautogui


class DesktopEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, task: str, *, width: int = 640, height: int = 480, display: str | None = None,
                 max_steps: int = 15, render_mode: str | None = "rgb_array"):
        if task not in TASKS:
            raise TaskNotFound(f"unknown desktop task {task!r}; available: {', '.join(TASKS)}")
        self.task, self.width, self.height, self.max_steps = task, width, height, max_steps
        self.render_mode = render_mode
        self.observation_space = observation_space(height, width)
        self.action_space = gym.spaces.Text(max_length=4096)
        self._own_display = VirtualDisplay(width, height) if display is None else None
        self.display = display
        self._app: subprocess.Popen | None = None
        self._state_dir = Path(mkdtemp(prefix="viragent-desktop-"))
        self._sync = 0
        self._steps = 0
        self._t0 = 0.0

    # ---- processes ----------------------------------------------------------------------------------
    def _ensure_display(self) -> None:
        if self.display is None:
            self.display = self._own_display.start()
        if getattr(self, "_mss", None) is None:
            import mss
            from Xlib.display import Display

            self._mss = getattr(mss, "MSS", mss.mss)(display=self.display)  # MSS in mss >= 10
            self._xdisplay = Display(self.display)

    def _stop_app(self) -> None:
        if self._app is not None:
            try:
                self._app.stdin.close()
            except OSError:
                pass  # the program already exited and closed its end
            try:
                self._app.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._app.kill()
            self._app = None

    def close(self) -> None:
        self._stop_app()
        if getattr(self, "_mss", None) is not None:
            self._mss.close()
            self._xdisplay.close()
            self._mss = None
        if self._own_display is not None:
            self._own_display.stop()
            self.display = None
        shutil.rmtree(self._state_dir, ignore_errors=True)

    # ---- state -------------------------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self._state_dir / "state.json"

    def app_state(self, timeout: float = 10.0) -> dict:
        """Ask the program to take in pending input and report; wait for that report."""
        self._xdisplay.sync()  # every fake input we sent has reached the X server
        self._sync += 1
        self._app.stdin.write(f"sync {self._sync}\n")
        self._app.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                state = json.loads(self._state_file.read_text())
                if state["sync"] >= self._sync:
                    return state
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                pass  # not written yet, or mid-write: poll again
            if self._app.poll() is not None:
                raise RuntimeError(f"the desktop task program exited (code {self._app.returncode})")
            time.sleep(0.005)
        raise TimeoutError(f"the desktop task program did not report within {timeout} s; the machine may be "
                           "overloaded (run fewer evaluations at once) or the Xvfb display unusable")

    def _observe(self, state: dict) -> dict:
        shot = self._mss.grab({"left": 0, "top": 0, "width": self.width, "height": self.height})
        frame = np.asarray(shot, dtype=np.uint8)[:, :, 2::-1].copy()  # BGRA -> RGB
        return {"screenshot": frame, "instruction": state["instruction"]}

    # ---- Gymnasium API ------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._ensure_display()
        self._stop_app()
        app_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        self._state_dir.mkdir(parents=True, exist_ok=True)
        self._state_file.unlink(missing_ok=True)
        self._app = subprocess.Popen([sys.executable, str(APP), self.task, str(app_seed), str(self._state_file)],
                                     stdin=subprocess.PIPE, text=True, env={**os.environ, "DISPLAY": self.display})
        self._sync, self._steps, self._t0 = 0, 0, time.monotonic()
        # The first report waits for a new Python process to import tkinter and draw its window: on a loaded
        # 2-core machine (three evaluations in parallel) that took over 10 s, and the whole evaluation died.
        state = self.app_state(timeout=60.0)
        self._last_state = state
        return self._observe(state), self._info(state)

    def step(self, action):
        action, error = checked_action(action, DESKTOP_ACTIONS, "the desktop")
        self._steps += 1
        if action is not None:
            self._execute(action)
        state = self.app_state()
        self._last_state = state
        terminated = state["done"] or (action is not None and action.type in ("done", "fail"))
        truncated = not terminated and self._steps >= self.max_steps
        info = self._info(state)
        if error:
            info["action_error"] = error
        reward = 1.0 if state["success"] else (-1.0 if state["done"] else 0.0)
        return self._observe(state), reward if terminated else 0.0, terminated, truncated, info

    def _info(self, state: dict) -> dict:
        return {"task": f"desktop/{self.task}", "step": self._steps, "success": bool(state["success"]),
                "elapsed": round(time.monotonic() - self._t0, 4), "display": self.display}

    def _px(self, x: float, y: float) -> tuple[int, int]:
        return min(self.width - 1, round(x * self.width)), min(self.height - 1, round(y * self.height))

    def _execute(self, action) -> None:
        gui = _pyautogui_on(self._xdisplay)
        if action.type == "click":
            gui.click(*self._px(action.x, action.y), clicks=action.count, button=action.button)
        elif action.type == "move":
            gui.moveTo(*self._px(action.x, action.y))
        elif action.type == "drag":
            gui.moveTo(*self._px(action.x, action.y))
            gui.dragTo(*self._px(action.x2, action.y2), button="left")
        elif action.type == "scroll":
            gui.moveTo(*self._px(action.x, action.y))
            gui.scroll(-round(action.dy / 40) or (-1 if action.dy > 0 else 1 if action.dy < 0 else 0))
        elif action.type == "type":
            if action.text.isascii():
                gui.write(action.text)
            else:  # pyautogui types ASCII only; xdotool types any text
                subprocess.run(["xdotool", "type", "--", action.text], env={**os.environ, "DISPLAY": self.display},
                               check=True)
            if action.submit:
                gui.press("enter")
        elif action.type == "key":
            keys = to_pyautogui(action.keys)
            gui.hotkey(*keys) if len(keys) > 1 else gui.press(keys[0])
        elif action.type == "wait":
            time.sleep(action.seconds)

    def render(self):
        return self._observe(self._last_state)["screenshot"]

    def expert_action(self):
        from .experts import EXPERTS

        if self.task not in EXPERTS:
            raise ExpertUnavailable(f"desktop task {self.task!r} has no expert")
        return EXPERTS[self.task](self._last_state, self.width, self.height)
