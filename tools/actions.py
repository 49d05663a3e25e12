"""The action vocabulary: everything an agent can do, as validated data.

Coordinates are floats in [0, 1] of the observed image, so an action means the same thing at any
resolution; executors scale them to pixels. This module imports nothing of ours and runs nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class _ActionBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Click(_ActionBase):
    type: Literal["click"] = "click"
    x: Unit
    y: Unit
    button: Literal["left", "right", "middle"] = "left"
    count: Annotated[int, Field(ge=1, le=3)] = 1


class Move(_ActionBase):
    type: Literal["move"] = "move"
    x: Unit
    y: Unit


class Drag(_ActionBase):
    type: Literal["drag"] = "drag"
    x: Unit
    y: Unit
    x2: Unit
    y2: Unit


class Scroll(_ActionBase):
    type: Literal["scroll"] = "scroll"
    x: Unit
    y: Unit
    dx: float = 0.0  # in pixels of the observed image; positive scrolls right
    dy: float = 0.0  # positive scrolls down


class Type(_ActionBase):
    type: Literal["type"] = "type"
    text: str
    submit: bool = False  # press Enter after typing


class Key(_ActionBase):
    type: Literal["key"] = "key"
    keys: Annotated[list[str], Field(min_length=1)]  # pressed together, e.g. ["ctrl", "a"]


class Wait(_ActionBase):
    type: Literal["wait"] = "wait"
    seconds: Annotated[float, Field(ge=0.0, le=60.0)] = 1.0


class Goto(_ActionBase):
    type: Literal["goto"] = "goto"
    url: str


class Done(_ActionBase):
    type: Literal["done"] = "done"
    answer: str = ""


class Fail(_ActionBase):
    type: Literal["fail"] = "fail"
    reason: str = ""


# Embodied moves (grid worlds): no arguments.
class TurnLeft(_ActionBase):
    type: Literal["turn_left"] = "turn_left"


class TurnRight(_ActionBase):
    type: Literal["turn_right"] = "turn_right"


class Forward(_ActionBase):
    type: Literal["forward"] = "forward"


class Pickup(_ActionBase):
    type: Literal["pickup"] = "pickup"


class Drop(_ActionBase):
    type: Literal["drop"] = "drop"


class Toggle(_ActionBase):
    type: Literal["toggle"] = "toggle"


Action = Annotated[
    Union[
        Click, Move, Drag, Scroll, Type, Key, Wait, Goto, Done, Fail,
        TurnLeft, TurnRight, Forward, Pickup, Drop, Toggle,
    ],
    Field(discriminator="type"),
]

ACTION_TYPES: dict[str, type[BaseModel]] = {
    cls.model_fields["type"].default: cls
    for cls in (Click, Move, Drag, Scroll, Type, Key, Wait, Goto, Done, Fail,
                TurnLeft, TurnRight, Forward, Pickup, Drop, Toggle)
}
EMBODIED_TYPES = frozenset({"turn_left", "turn_right", "forward", "pickup", "drop", "toggle"})

_adapter: TypeAdapter = TypeAdapter(Action)


def action_from_dict(data: dict | BaseModel) -> BaseModel:
    """Validate a dict (e.g. from JSON) into its Action class; an Action passes through unchanged."""
    if isinstance(data, BaseModel):
        return data
    return _adapter.validate_python(data)


def action_to_dict(action: BaseModel) -> dict:
    return action.model_dump(mode="json")
