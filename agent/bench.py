"""Benchmarks that print numbers and ratios measured in one run (never asserted in tests).

`bench_env`: our MiniWoB env's reset / screenshot / step against the same work done with raw Playwright
on the same page, so the cost of our layer shows as a ratio.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
from PIL import Image

from viragent.environments import make_env, parse_env_id
from viragent.environments.browser.chromium import CHROMIUM_ARGS, find_chromium, shared_playwright


def _ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _bench_ours(env_id: str, steps: int) -> dict[str, float]:
    env = make_env(env_id, max_steps=10_000)
    u = env.unwrapped
    env.reset(seed=0)  # launch outside the timings
    resets, shots, step_times = [], [], []
    seed = 1
    for _ in range(steps):
        t0 = time.perf_counter()
        env.reset(seed=seed)
        resets.append(time.perf_counter() - t0)
        seed += 1
        action = u.expert_action()
        t0 = time.perf_counter()
        env.step(action)
        step_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        u._observe(u._status())
        shots.append(time.perf_counter() - t0)
    env.close()
    return {"reset_ms": _ms(resets), "screenshot_ms": _ms(shots), "step_ms": _ms(step_times)}


def _bench_raw(env_id: str, steps: int) -> dict[str, float]:
    """The same page, seeds and clicks in plain Playwright: click, read the reward, screenshot, decode."""
    suite, task = parse_env_id(env_id)
    probe = suite.make(task)  # only for the url, sizes and the expert's click points
    region = probe.unwrapped.region
    url, width, height = probe.unwrapped.url, probe.unwrapped.width, probe.unwrapped.height
    # Precompute the clicks with our env, so both sides click the same points.
    probe.reset(seed=0)
    clicks = []
    for seed in range(1, steps + 1):
        probe.reset(seed=seed)
        a = probe.unwrapped.expert_action()
        clicks.append((a.x * region[0], a.y * region[1]))
    probe.close()
    clip = {"x": 0, "y": 0, "width": region[0], "height": region[1]}
    resets, shots, step_times = [], [], []
    # One Playwright driver per thread: the same one our env uses.
    browser = shared_playwright().chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_function("() => typeof core !== 'undefined' && core.cover_div !== null")
    for seed, (x, y) in enumerate(clicks, start=1):
        t0 = time.perf_counter()
        page.evaluate("(s) => { core.endEpisode(0); Math.seedrandom(String(s)); core.startEpisodeReal(); }", seed)
        page.evaluate("() => core.getUtterance()")
        np.asarray(Image.open(io.BytesIO(page.screenshot(type="png", clip=clip))).convert("RGB"))
        resets.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        page.mouse.click(x, y)
        page.evaluate("() => [WOB_DONE_GLOBAL, WOB_RAW_REWARD_GLOBAL, core.getUtterance()]")
        np.asarray(Image.open(io.BytesIO(page.screenshot(type="png", clip=clip))).convert("RGB"))
        step_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.asarray(Image.open(io.BytesIO(page.screenshot(type="png", clip=clip))).convert("RGB"))
        shots.append(time.perf_counter() - t0)
    browser.close()
    return {"reset_ms": _ms(resets), "screenshot_ms": _ms(shots), "step_ms": _ms(step_times)}


def bench_env(env_id: str = "miniwob/click-button", steps: int = 50) -> list[dict]:
    """Rows of (metric, ours ms, raw Playwright ms, ratio), medians over `steps` samples each."""
    ours = _bench_ours(env_id, steps)
    raw = _bench_raw(env_id, steps)
    return [{"metric": k, "ours_ms": ours[k], "raw_ms": raw[k], "ratio": ours[k] / raw[k]} for k in ours]
