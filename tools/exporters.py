"""Exporters: an Action as code other tools run — pyautogui scripts, BrowserGym calls, JSON.

Coordinates are scaled from [0, 1] to the pixel size the caller names, since an Action carries none.
"""

from __future__ import annotations

import json

from pydantic import BaseModel

from .actions import EMBODIED_TYPES
from .keys import to_playwright, to_pyautogui


class NotExportable(ValueError):
    """The target tool has no equivalent of this action (e.g. a grid-world move for pyautogui)."""


def _px(value: float, size: int) -> int:
    return min(size - 1, max(0, round(value * size)))


def to_pyautogui_code(action: BaseModel, width: int, height: int) -> str:
    """One or more lines of pyautogui code doing `action` on a width x height screen."""
    a = action
    kind = a.type
    if kind == "click":
        return f"pyautogui.click(x={_px(a.x, width)}, y={_px(a.y, height)}, clicks={a.count}, button={a.button!r})"
    if kind == "move":
        return f"pyautogui.moveTo({_px(a.x, width)}, {_px(a.y, height)})"
    if kind == "drag":
        return (f"pyautogui.moveTo({_px(a.x, width)}, {_px(a.y, height)})\n"
                f"pyautogui.dragTo({_px(a.x2, width)}, {_px(a.y2, height)}, button='left')")
    if kind == "scroll":
        lines = [f"pyautogui.moveTo({_px(a.x, width)}, {_px(a.y, height)})"]
        if a.dy:
            lines.append(f"pyautogui.scroll({-round(a.dy)})")  # pyautogui: positive scrolls up
        if a.dx:
            lines.append(f"pyautogui.hscroll({round(a.dx)})")
        return "\n".join(lines)
    if kind == "type":
        code = f"pyautogui.write({a.text!r})"
        return code + ("\npyautogui.press('enter')" if a.submit else "")
    if kind == "key":
        keys = to_pyautogui(a.keys)
        if len(keys) == 1:
            return f"pyautogui.press({keys[0]!r})"
        return f"pyautogui.hotkey({', '.join(repr(k) for k in keys)})"
    if kind == "wait":
        return f"time.sleep({a.seconds})"
    if kind in ("done", "fail"):
        return f"# {kind}: {getattr(a, 'answer', '') or getattr(a, 'reason', '')}".rstrip(": ")
    raise NotExportable(f"pyautogui has no equivalent of {kind!r}")


def to_browsergym(action: BaseModel, width: int, height: int) -> str:
    """A BrowserGym high-level action string (its `coord` action set), e.g. `mouse_click(80.0, 40.0)`."""
    a = action
    kind = a.type

    def xy(x: float, y: float) -> str:
        return f"{x * width:.1f}, {y * height:.1f}"

    if kind == "click":
        if a.count == 2:
            return f"mouse_dblclick({xy(a.x, a.y)}, button={json.dumps(a.button)})"
        return f"mouse_click({xy(a.x, a.y)}, button={json.dumps(a.button)})"
    if kind == "move":
        return f"mouse_move({xy(a.x, a.y)})"
    if kind == "drag":
        return f"mouse_drag_and_drop({xy(a.x, a.y)}, {xy(a.x2, a.y2)})"
    if kind == "scroll":
        return f"scroll({a.dx:.1f}, {a.dy:.1f})"
    if kind == "type":
        code = f"keyboard_type({json.dumps(a.text)})"
        return code + ('\nkeyboard_press("Enter")' if a.submit else "")
    if kind == "key":
        return f"keyboard_press({json.dumps(to_playwright(a.keys))})"
    if kind == "wait":
        return f"noop(wait_ms={a.seconds * 1000:.0f})"
    if kind == "goto":
        return f"goto({json.dumps(a.url)})"
    if kind == "done":
        return f"send_msg_to_user({json.dumps(a.answer)})"
    if kind == "fail":
        return f"report_infeasible({json.dumps(a.reason)})"
    if kind in EMBODIED_TYPES:
        raise NotExportable(f"BrowserGym has no equivalent of the grid-world move {kind!r}")
    raise NotExportable(f"BrowserGym has no equivalent of {kind!r}")


def to_json(action: BaseModel) -> str:
    return json.dumps(action.model_dump(mode="json"), ensure_ascii=False)
