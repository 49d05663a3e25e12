"""A Gymnasium environment over a real Chromium page driven by Playwright (sync API).

Actions arrive as [0, 1] coordinates and are executed as real mouse and keyboard input at pixel positions,
exactly as a model's would be. Subclasses (MiniWoB) add task loading, reward and an expert.
"""

from __future__ import annotations

import io
import time
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from viragent.tools import to_playwright
from viragent.tools.keys import UnknownKey

from ..core import checked_action, observation_space
from .chromium import CHROMIUM_ARGS, BrowserCrashed, find_chromium, shared_playwright

BROWSER_ACTIONS = frozenset({"click", "move", "drag", "scroll", "type", "key", "wait", "goto", "done", "fail"})


class BrowserEnv(gym.Env):
    """Any web page as an environment: `instruction` is what the agent is asked to do on `url`.

    `region=(w, h)` observes only the top-left w x h CSS pixels of the width x height window (MiniWoB's
    task area); Action coordinates are fractions of what is observed. The episode ends when the agent says
    done/fail (terminated) or at `max_steps` / `time_limit_s` (truncated). This base class has no success verdict (`info["success"]` is None); MiniWoB has one.
    `text_regions=True` adds `info["regions"]`, every visible word with its box (`visible_text_regions`).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, url: str = "about:blank", instruction: str = "", *, width: int = 1280,
                 height: int = 720, region: tuple[int, int] | None = None, device_scale_factor: float = 1.0, max_steps: int = 30,
                 time_limit_s: float = 120.0, chromium_path: str | None = None, headless: bool = True,
                 render_mode: str | None = "rgb_array", text_regions: bool = False):
        self.url, self.instruction = url, instruction
        self.text_regions = text_regions  # info["regions"]: each visible word's box, for dense training labels
        self.width, self.height, self.scale = width, height, device_scale_factor
        self.region = region or (width, height)
        self.max_steps, self.time_limit_s = max_steps, time_limit_s
        self.chromium_path, self.headless = chromium_path, headless
        self.render_mode = render_mode
        shot_w, shot_h = (round(v * device_scale_factor) for v in self.region)
        self.observation_space = observation_space(shot_h, shot_w)
        # Actions are pydantic models (a union no gym space describes); a Text space stands for their JSON.
        self.action_space = gym.spaces.Text(max_length=4096)
        self._browser = self._page = None
        self._steps, self._t0 = 0, 0.0
        self._last_frame: np.ndarray | None = None

    # ---- browser lifetime -------------------------------------------------------------------------
    @property
    def page(self):
        if self._page is None or self._page.is_closed() or not self._browser.is_connected():
            self._launch()
        return self._page

    def _launch(self) -> None:
        self._close_browser()
        playwright = shared_playwright()
        executable = find_chromium(self.chromium_path, managed=playwright.chromium.executable_path)
        self._browser = playwright.chromium.launch(executable_path=executable, headless=self.headless,
                                                 args=CHROMIUM_ARGS)
        context = self._browser.new_context(viewport={"width": self.width, "height": self.height},
                                            device_scale_factor=self.scale)
        self._page = context.new_page()
        self._on_launch(self._page)

    def _on_launch(self, page) -> None:
        page.goto(self.url)

    def _close_browser(self) -> None:
        if self._browser is not None:
            try:
                self._browser.close()
            except PlaywrightError:
                pass  # already dead: nothing to close
        self._browser = self._page = None

    def close(self) -> None:
        self._close_browser()

    # ---- Gymnasium API ----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._steps, self._t0 = 0, time.monotonic()
        self._start_episode(seed, options or {})
        status = self._status()
        return self._observe(status), self._info(status)

    def _start_episode(self, seed: int | None, options: dict) -> None:
        page = self.page
        if options.get("url") or page.url != self.url:
            page.goto(options.get("url", self.url))
        self.instruction = options.get("instruction", self.instruction)

    def step(self, action):
        action, error = checked_action(action, BROWSER_ACTIONS, "the browser")
        self._steps += 1
        if action is not None:
            try:
                self._execute(action)
            except UnknownKey as exc:
                error = str(exc)
            except PlaywrightError as exc:
                if self._page is None or self._page.is_closed() or not self._browser.is_connected():
                    raise BrowserCrashed(f"the browser died while executing {action.type}: {exc}. "
                                         "Call reset() to relaunch it.") from exc
                error = f"the browser rejected {action.type}: {exc}"
        status = self._status()  # one round trip to the page for done/reward/instruction
        terminated = status["done"] or (action is not None and action.type in ("done", "fail"))
        truncated = not terminated and (self._steps >= self.max_steps or self._elapsed() >= self.time_limit_s)
        info = self._info(status)
        if error:
            info["action_error"] = error
        reward = float(status["reward"]) if terminated else 0.0
        return self._observe(status), reward, terminated, truncated, info

    def render(self):
        return self._last_frame

    # ---- executing actions ------------------------------------------------------------------------
    def _px(self, x: float, y: float) -> tuple[float, float]:
        # Scale to CSS pixels of the observed region; the screenshot may be larger by device_scale_factor.
        return x * self.region[0], y * self.region[1]

    def _execute(self, action) -> None:
        mouse, keyboard = self._page.mouse, self._page.keyboard
        kind = action.type
        if kind == "click":
            mouse.click(*self._px(action.x, action.y), button=action.button, click_count=action.count)
        elif kind == "move":
            mouse.move(*self._px(action.x, action.y))
        elif kind == "drag":
            mouse.move(*self._px(action.x, action.y))
            mouse.down()
            mouse.move(*self._px(action.x2, action.y2), steps=5)
            mouse.up()
        elif kind == "scroll":
            mouse.move(*self._px(action.x, action.y))
            mouse.wheel(action.dx / self.scale, action.dy / self.scale)
        elif kind == "type":
            keyboard.type(action.text)
            if action.submit:
                keyboard.press("Enter")
        elif kind == "key":
            keyboard.press(to_playwright(action.keys))
        elif kind == "wait":
            self._page.wait_for_timeout(action.seconds * 1000)
        elif kind == "goto":
            self._page.goto(action.url)

    # ---- observation, reward ----------------------------------------------------------------------
    def _observe(self, status: dict[str, Any]) -> dict[str, Any]:
        clip = {"x": 0, "y": 0, "width": self.region[0], "height": self.region[1]}
        png = self.page.screenshot(type="png", clip=clip)
        frame = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        self._last_frame = frame
        return {"screenshot": frame, "instruction": status["instruction"]}

    def _status(self) -> dict[str, Any]:
        """The task's state: done, reward, success, instruction. A plain page has no verdict."""
        return {"done": False, "reward": 0.0, "success": None, "instruction": self.instruction}

    def _elapsed(self) -> float:
        return time.monotonic() - self._t0

    def _info(self, status: dict[str, Any]) -> dict[str, Any]:
        info = {"url": self._page.url if self._page else self.url, "elapsed": round(self._elapsed(), 4),
                "step": self._steps, "success": status["success"]}
        if self.text_regions:
            info["regions"] = self.visible_text_regions()
        return info

    def visible_text_regions(self) -> list[dict]:
        """Every word the observed area shows, with its box: [{"text", "box": [x0, y0, x1, y1]}], coordinates
        0-1000 of the observation (InternVL's grounding convention). Words of the DOM's text and of filled
        text inputs (not passwords: the screen shows dots); quotes and punctuation around a word dropped."""
        width, height = self.region
        words = self.page.evaluate(_VISIBLE_WORDS_JS, [width, height])
        regions = []
        for text, x0, y0, x1, y1 in words:
            text = text.strip(_PUNCTUATION)
            if text:
                regions.append({"text": text, "box": [round(max(0.0, x0) * 1000 / width),
                                                      round(max(0.0, y0) * 1000 / height),
                                                      round(min(width, x1) * 1000 / width),
                                                      round(min(height, y1) * 1000 / height)]})
        return regions


_PUNCTUATION = "\"'.,:;!?()[]{}"
# Words as the page lays them out: a Range per word of each rendered text node, and the values of text inputs.
_VISIBLE_WORDS_JS = r"""([width, height]) => {
    const out = [], range = document.createRange();
    const inside = (r) => r.width >= 1 && r.height >= 1 && r.right > 0 && r.bottom > 0 && r.left < width && r.top < height;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || parent.closest('script, style, textarea')) continue;
        const style = getComputedStyle(parent);
        if (style.visibility !== 'visible' || style.opacity === '0') continue;
        for (const match of node.textContent.matchAll(/\S+/g)) {
            range.setStart(node, match.index);
            range.setEnd(node, match.index + match[0].length);
            const r = range.getBoundingClientRect();
            if (inside(r)) out.push([match[0], r.left, r.top, r.right, r.bottom]);
        }
    }
    for (const input of document.querySelectorAll('input:not([type]), input[type=text], input[type=search], textarea')) {
        const r = input.getBoundingClientRect();
        if (input.value && inside(r)) out.push([input.value, r.left, r.top, r.right, r.bottom]);
    }
    return out;
}"""
