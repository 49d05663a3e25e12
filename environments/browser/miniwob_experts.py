"""Scripted experts for MiniWoB++ tasks: read the DOM, answer with a grounded Action in [0, 1] coordinates.

The expert acts through the same `env.step(Action)` path a model uses — a click at a point, never an element
handle — so its demonstrations are exactly what a policy must learn to produce. Targets are matched on the
whole text (anchored), never by substring: "ok" must not match "book". The click point is one that
`document.elementFromPoint` confirms hits the target, since MiniWoB places buttons that can overlap.
"""

from __future__ import annotations

import re
from typing import Callable

from viragent.environments.core import ExpertStuck
from viragent.tools import Click, Done, Key, Type

# One round trip: every element in the task area with its box, a hit-tested click point, text and state.
_SNAPSHOT_JS = r"""([W, H]) => {
  const hits = (el, hit) => hit && (hit === el || el.contains(hit) || (hit.tagName === 'LABEL' && hit.control === el));
  const pointOf = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return null;
    const fr = [0.5, 0.3, 0.7, 0.15, 0.85];
    for (const fy of fr) for (const fx of fr) {
      const x = r.left + fx * r.width, y = r.top + fy * r.height;
      if (x < 0 || y < 0 || x >= W || y >= H) continue;
      if (hits(el, document.elementFromPoint(x, y))) return [x / W, y / H];
    }
    return null;
  };
  const els = [];
  document.querySelectorAll('#area *, .ui-dialog, .ui-dialog *').forEach((el) => {
    const r = el.getBoundingClientRect();
    els.push({
      tag: el.tagName.toLowerCase(), id: el.id, cls: String(el.className || ''),
      text: (el.textContent || '').replace(/\s+/g, ' ').trim(),
      type: el.type || '', value: el.value === undefined ? null : String(el.value),
      checked: !!el.checked, focused: document.activeElement === el,
      label: (el.labels && el.labels.length) ? el.labels[0].textContent.replace(/\s+/g, ' ').trim() : null,
      selected_all: (el.value !== undefined && el.value.length > 0 && el.selectionStart === 0
                     && el.selectionEnd === el.value.length),
      box: [r.left / W, r.top / H, r.width / W, r.height / H], point: pointOf(el),
    });
  });
  return {
    utterance: core.getUtterance(), done: WOB_DONE_GLOBAL, elements: els,
    pushed: (typeof buttonsPushed !== 'undefined') ? buttonsPushed.length : null,
  };
}"""


class Page:
    """The snapshot, with lookups that fail loudly when the target cannot be found."""

    def __init__(self, snap: dict):
        self.utterance: str = snap["utterance"] if isinstance(snap["utterance"], str) else snap["utterance"]["utterance"]
        self.done: bool = snap["done"]
        self.elements: list[dict] = snap["elements"]
        self.pushed = snap["pushed"]

    def find(self, tag: str | None = None, *, text: str | None = None, id: str | None = None,
             cls: str | None = None, type: str | None = None) -> list[dict]:
        found = []
        for el in self.elements:
            if tag and el["tag"] != tag:
                continue
            if text is not None and el["text"] != text:  # anchored: the whole text, not a substring
                continue
            if id is not None and el["id"] != id:
                continue
            if cls is not None and cls not in el["cls"].split():
                continue
            if type is not None and el["type"] != type:
                continue
            found.append(el)
        return found

    def one(self, *args, **kwargs) -> dict:
        found = [el for el in self.find(*args, **kwargs) if el["point"] is not None]
        if not found:
            raise ExpertStuck(f"no visible element {args} {kwargs} for {self.utterance!r}")
        return found[0]

    def quoted(self) -> list[str]:
        return re.findall(r'"([^"]*)"', self.utterance)


def click(el: dict) -> Click:
    x, y = el["point"]
    return Click(x=min(max(x, 0.0), 1.0), y=min(max(y, 0.0), 1.0))


def fill_then_submit(page: Page, fields: list[tuple[dict, str]], submit: dict):
    """Fill each field with its value (focus, select-all when it holds other text, type), then submit."""
    for field, value in fields:
        if field["value"] == value:
            continue
        if not field["focused"]:
            return click(field)
        if field["value"] and not field["selected_all"]:
            return Key(keys=["ctrl", "a"])
        return Type(text=value)
    return click(submit)


def _click_test(p: Page):
    return click(p.one("button", id="subbtn"))


def _click_by_label(p: Page):  # click-test-2: 'Click button ONE.'
    label = re.match(r"Click button (\S+)\.", p.utterance).group(1)
    return click(p.one("button", text=label))


def _click_button(p: Page):
    return click(p.one("button", text=p.quoted()[0]))


def _click_button_sequence(p: Page):
    return click(p.one("button", text="ONE" if not p.pushed else "TWO"))


def _click_link(p: Page):
    return click(p.one("span", text=p.quoted()[0], cls="alink"))


def _click_dialog(p: Page):
    return click(p.one("button", cls="ui-dialog-titlebar-close"))


def _click_dialog_2(p: Page):
    label = p.quoted()[0]
    if label == "x":
        return click(p.one("button", cls="ui-dialog-titlebar-close"))
    return click(p.one("button", text=label))


def _click_tab(p: Page):
    number = re.search(r"Tab #(\d+)", p.utterance).group(1)
    return click(p.one("a", text=f"Tab #{number}"))


def _select_then_submit(p: Page, input_type: str):
    names = re.match(r"Select (.*) and click Submit\.", p.utterance).group(1)
    wanted = set() if names == "nothing" else set(names.split(", "))
    for box in p.find("input", type=input_type):
        if (box["label"] in wanted) != box["checked"]:
            return click(box)
    return click(p.one("button", text="Submit"))


def _focus_text(p: Page):
    return click(p.one("input", id="tt"))


def _focus_text_2(p: Page):
    index = {"1st": 0, "2nd": 1, "3rd": 2}[re.search(r"(1st|2nd|3rd)", p.utterance).group(1)]
    return click(p.one("input", id=f"tt{index + 1}"))


def _enter_text(p: Page):
    return fill_then_submit(p, [(p.one("input", id="tt"), p.quoted()[0])], p.one("button", id="subbtn"))


def _enter_password(p: Page):
    password = p.quoted()[0]
    return fill_then_submit(p, [(p.one("input", id="password"), password), (p.one("input", id="verify"), password)],
                            p.one("button", id="subbtn"))


def _login_user(p: Page):
    user, password = p.quoted()[:2]
    return fill_then_submit(p, [(p.one("input", id="username"), user), (p.one("input", id="password"), password)],
                            p.one("button", id="subbtn"))


EXPERTS: dict[str, Callable[[Page], object]] = {
    "click-test": _click_test,
    "click-test-2": _click_by_label,
    "click-button": _click_button,
    "click-button-sequence": _click_button_sequence,
    "click-link": _click_link,
    "click-dialog": _click_dialog,
    "click-dialog-2": _click_dialog_2,
    "click-tab": _click_tab,
    "click-checkboxes": lambda p: _select_then_submit(p, "checkbox"),
    "click-option": lambda p: _select_then_submit(p, "radio"),
    "focus-text": _focus_text,
    "focus-text-2": _focus_text_2,
    "enter-text": _enter_text,
    "enter-password": _enter_password,
    "login-user": _login_user,
}


def expert_action(task: str, page, region: tuple[int, int]) -> object:
    """The expert's next Action on a live Playwright page showing `task` in its top-left `region` (w, h)."""
    snapshot = Page(page.evaluate(_SNAPSHOT_JS, list(region)))
    if snapshot.done:
        return Done()
    return EXPERTS[task](snapshot)
