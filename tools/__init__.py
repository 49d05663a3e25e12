"""viragent.tools — the action vocabulary (typed Actions), text codecs and exporters. Imports nothing of ours."""

from .actions import (
    ACTION_TYPES, EMBODIED_TYPES, Action, Click, Done, Drag, Drop, Fail, Forward, Goto, Key, Move, Pickup,
    Scroll, Toggle, TurnLeft, TurnRight, Type, Wait, action_from_dict, action_to_dict,
)
from .codecs import ActionParseError, Codec, InternVLCodec, JSONCodec, get_codec
from .exporters import NotExportable, to_browsergym, to_json, to_pyautogui_code
from .keys import UnknownKey, to_playwright, to_pyautogui

__all__ = [
    "ACTION_TYPES", "EMBODIED_TYPES", "Action", "Click", "Done", "Drag", "Drop", "Fail", "Forward", "Goto",
    "Key", "Move", "Pickup", "Scroll", "Toggle", "TurnLeft", "TurnRight", "Type", "Wait",
    "action_from_dict", "action_to_dict", "ActionParseError", "Codec", "InternVLCodec", "JSONCodec",
    "get_codec", "NotExportable", "to_browsergym", "to_json", "to_pyautogui_code", "UnknownKey",
    "to_playwright", "to_pyautogui",
]
