"""A real desktop under Xvfb: Tk task programs driven with pyautogui, observed with mss."""

from .display import DisplayUnavailable, VirtualDisplay
from .env import TASKS, DesktopEnv

__all__ = ["DisplayUnavailable", "VirtualDisplay", "TASKS", "DesktopEnv"]
