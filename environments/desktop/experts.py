"""Experts for the desktop tasks: read the program's reported widget geometry, answer with a grounded Action.

Like the MiniWoB experts they only click points and type, so their steps are what a policy must learn.
"""

from __future__ import annotations

import re

from viragent.tools import Click, Done, Key, Type


def _center(box: dict, width: int, height: int) -> Click:
    return Click(x=min((box["x"] + box["w"] / 2) / width, 1.0), y=min((box["y"] + box["h"] / 2) / height, 1.0))


def _fill(widgets: dict, fields: list[tuple[str, str]], submit: str, width: int, height: int):
    for name, value in fields:
        field = widgets[name]
        if field["value"] == value:
            continue
        if not field["focused"]:
            return _center(field, width, height)
        if field["value"] and not field["selected_all"]:
            return _select_all(field)
        return Type(text=value)
    return _center(widgets[submit], width, height)


def _select_all(field: dict):
    # Tk's Entry binds Ctrl+/ to select-all (Ctrl+A moves to the line start, Emacs style).
    return Key(keys=["ctrl", "/"])


def form(state, w, h):
    name, email = re.findall(r'"([^"]*)"', state["instruction"])[:2]
    return _fill(state["widgets"], [("name", name), ("email", email)], "submit", w, h)


def dialog(state, w, h):
    answer = re.search(r'Answer "([^"]+)"', state["instruction"]).group(1)
    return _center(state["widgets"][answer], w, h)


def listbox(state, w, h):
    want = re.search(r'Select "([^"]+)"', state["instruction"]).group(1)
    items = state["widgets"]["list"]["items"]
    item = next(i for i in items if i["text"] == want)
    if not item["selected"]:
        return _center(item, w, h)
    return _center(state["widgets"]["ok"], w, h)


def text_edit(state, w, h):
    want = re.search(r'to "([^"]*)"', state["instruction"]).group(1)
    return _fill(state["widgets"], [("text", want)], "save", w, h)


def menu(state, w, h):
    want = re.search(r"run (\w+)\.", state["instruction"]).group(1)
    popup = state["widgets"]["popup:Edit"]
    if not popup["visible"]:
        return _center(state["widgets"]["menu:Edit"], w, h)
    entry = next(e for e in popup["entries"] if e["text"] == want)
    return _center(entry, w, h)


def checkboxes(state, w, h):
    names = re.search(r"Check (.*) \(and nothing else\)", state["instruction"]).group(1).split(", ")
    for key, box in state["widgets"].items():
        if key.startswith("check:") and box["checked"] != (key.split(":", 1)[1] in names):
            return _center(box, w, h)
    return _center(state["widgets"]["apply"], w, h)


def _when_done(expert):
    def act(state, w, h):
        return Done() if state["done"] else expert(state, w, h)
    return act


EXPERTS = {name: _when_done(fn) for name, fn in {
    "form": form, "dialog": dialog, "list": listbox, "text-edit": text_edit, "menu": menu, "checkboxes": checkboxes,
}.items()}
