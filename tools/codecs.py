"""Text <-> Action codecs: how a policy writes actions and how we read them back.

The default codec speaks InternVL's convention: keyword calls with coordinates as integers 0-1000, e.g.
`click(x=512, y=301)`, `type(text="hello", submit=true)`, `key(keys=["ctrl","a"])`, `done()`.
`parse()` never raises past its caller: it returns an Action or an `ActionParseError` carrying the raw text,
so a malformed model output is recorded and the episode goes on.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Protocol

from pydantic import BaseModel, ValidationError

from .actions import ACTION_TYPES, action_from_dict


class ActionParseError(Exception):
    """A policy's text did not describe a valid action. Returned (not raised) by `Codec.parse`."""

    def __init__(self, raw: str, reason: str):
        super().__init__(f"could not parse an action from {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


class Codec(Protocol):
    name: str

    def encode(self, action: BaseModel) -> str: ...

    def parse(self, text: str) -> BaseModel | ActionParseError: ...


# Fields given in the 0-1000 integer grid in text and as [0, 1] floats in Action.
_GRID_FIELDS = ("x", "y", "x2", "y2")
_GRID = 1000
_CALL_START = re.compile(r"\b(" + "|".join(sorted(ACTION_TYPES, key=len, reverse=True)) + r")\s*\(")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _closing_paren(text: str, open_index: int) -> int:
    """Index of the ')' matching text[open_index] == '(', skipping quoted strings; -1 if unbalanced."""
    depth, quote, i = 0, "", open_index
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _value(node: ast.AST) -> object:
    """A literal argument; JSON's true/false/null are accepted beside Python's spellings."""
    if isinstance(node, ast.Name) and node.id in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[node.id]
    return ast.literal_eval(node)


class InternVLCodec:
    """`name(arg=value, ...)` with coordinates on a 0-1000 integer grid.

    `bins`: when set, encoding snaps each coordinate to the centre of one of `bins` equal cells (32 -> 16, 47,
    78, … 984). The text is still the 0-1000 grid and parses the same; only the set of numbers a model must
    learn shrinks (a small model trained from scratch learns 32 classes per axis, not 1001). Training data
    for the tiny policy is written this way.
    """

    name = "internvl"

    def __init__(self, bins: int | None = None):
        if bins is not None and not 1 <= bins <= _GRID:
            raise ValueError(f"bins must be between 1 and {_GRID}, got {bins}")
        self.bins = bins

    def snap(self, value: float) -> int:
        """A [0, 1] coordinate -> its 0-1000 grid integer (the centre of its cell when `bins` is set)."""
        if self.bins is None:
            return round(value * _GRID)
        cell = min(self.bins - 1, int(value * self.bins))
        return round((cell + 0.5) * _GRID / self.bins)

    def encode(self, action: BaseModel) -> str:
        data = action.model_dump(mode="json")
        kind = data.pop("type")
        defaults = {k: f.default for k, f in type(action).model_fields.items()}
        parts = []
        for key, value in data.items():
            if key in _GRID_FIELDS:
                value = self.snap(value)
            elif value == defaults[key]:
                continue  # keep the text short: defaults are implied (required fields have none)
            parts.append(f"{key}={_literal(value)}")
        return f"{kind}({', '.join(parts)})"

    def parse(self, text: str) -> BaseModel | ActionParseError:
        if not isinstance(text, str):
            return ActionParseError(repr(text), "expected a string")
        # The last call in the text wins: models often think aloud before acting.
        starts = [m for m in _CALL_START.finditer(text)]
        if not starts:
            return ActionParseError(text, f"no action call found; expected one of {sorted(ACTION_TYPES)}")
        last_error = "unbalanced parentheses"
        for match in reversed(starts):
            end = _closing_paren(text, match.end() - 1)
            if end < 0:
                continue
            result = self._parse_call(match.group(1), text[match.end() - 1 : end + 1])
            if isinstance(result, str):
                last_error = result
                continue
            return result
        return ActionParseError(text, last_error)

    def _parse_call(self, kind: str, args_text: str) -> BaseModel | str:
        try:
            call = ast.parse(f"f{args_text}", mode="eval").body
        except SyntaxError as exc:
            return f"arguments are not valid syntax ({exc.msg})"
        if not isinstance(call, ast.Call):
            return "not a call"
        if call.args:
            return "arguments must be given by keyword, e.g. click(x=500, y=300)"
        data: dict[str, object] = {"type": kind}
        try:
            for kw in call.keywords:
                if kw.arg is None:
                    return "**kwargs are not allowed"
                data[kw.arg] = _value(kw.value)
        except (ValueError, SyntaxError, TypeError):
            return "argument values must be literals (numbers, strings, true/false, lists)"
        for key in _GRID_FIELDS:
            if key in data:
                value = data[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    return f"{key} must be a number on the 0-{_GRID} grid"
                if not 0 <= value <= _GRID:
                    return f"{key}={value} is outside the 0-{_GRID} grid"
                data[key] = float(value) / _GRID
        try:
            return action_from_dict(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"][1:]) or kind
            return f"{where}: {first['msg']}"


class JSONCodec:
    """Actions as JSON objects, coordinates as [0, 1] floats (for logs and tool-calling models)."""

    name = "json"

    def encode(self, action: BaseModel) -> str:
        return json.dumps(action.model_dump(mode="json"), ensure_ascii=False)

    def parse(self, text: str) -> BaseModel | ActionParseError:
        try:
            return action_from_dict(json.loads(text))
        except (json.JSONDecodeError, TypeError) as exc:
            return ActionParseError(str(text), f"not JSON: {exc}")
        except ValidationError as exc:
            return ActionParseError(str(text), exc.errors()[0]["msg"])


CODECS: dict[str, Codec] = {"internvl": InternVLCodec(), "json": JSONCodec()}


def get_codec(name: str) -> Codec:
    try:
        return CODECS[name]
    except KeyError:
        raise KeyError(f"unknown codec {name!r}; available: {sorted(CODECS)}") from None
