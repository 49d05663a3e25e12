"""Key names: one lower-case vocabulary in Actions, translated for each executor.

Actions say `key(keys=["ctrl", "a"])`; Playwright wants "Control+a", pyautogui wants "ctrl", "a".
"""

from __future__ import annotations

# Our name -> Playwright's name. Single characters pass through unchanged.
PLAYWRIGHT_KEYS = {
    "ctrl": "Control", "control": "Control", "shift": "Shift", "alt": "Alt", "meta": "Meta",
    "cmd": "Meta", "super": "Meta", "win": "Meta",
    "enter": "Enter", "return": "Enter", "tab": "Tab", "esc": "Escape", "escape": "Escape",
    "backspace": "Backspace", "delete": "Delete", "del": "Delete", "space": " ", "insert": "Insert",
    "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
    "home": "Home", "end": "End", "pageup": "PageUp", "pagedown": "PageDown",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}

# Our name -> pyautogui's name (pyautogui is lower-case already; only aliases differ).
PYAUTOGUI_KEYS = {
    "control": "ctrl", "return": "enter", "escape": "esc", "del": "delete", "cmd": "command",
    "meta": "win", "super": "win", "pageup": "pageup", "pagedown": "pagedown",
}


class UnknownKey(ValueError):
    """A key name no executor knows; the message lists the names that work."""


def to_playwright(keys: list[str]) -> str:
    """["ctrl", "a"] -> "Control+a" (a chord for `page.keyboard.press`)."""
    names = []
    for key in keys:
        low = key.lower()
        if low in PLAYWRIGHT_KEYS:
            names.append(PLAYWRIGHT_KEYS[low])
        elif len(key) == 1:
            names.append(key)
        else:
            raise UnknownKey(
                f"unknown key {key!r}; use one character or one of {sorted(PLAYWRIGHT_KEYS)}"
            )
    return "+".join(names)


def to_pyautogui(keys: list[str]) -> list[str]:
    return [PYAUTOGUI_KEYS.get(k.lower(), k.lower() if len(k) > 1 else k) for k in keys]
