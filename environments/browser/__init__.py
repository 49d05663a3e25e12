"""Real browsers as environments: a generic Playwright `BrowserEnv` and the MiniWoB++ suite on it."""

from .chromium import BrowserCrashed, BrowserNotFound, find_chromium
from .env import BrowserEnv
from .miniwob import MiniWoBEnv, miniwob_tasks

__all__ = ["BrowserCrashed", "BrowserNotFound", "find_chromium", "BrowserEnv", "MiniWoBEnv", "miniwob_tasks"]
