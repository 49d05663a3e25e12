"""Codec round trips over every action (property-based) and a table of malformed texts."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viragent.tools import (
    ACTION_TYPES, ActionParseError, Click, Done, Drag, InternVLCodec, JSONCodec, Key, Type, action_from_dict,
)

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
text = st.text(max_size=40)
key_name = st.sampled_from(["ctrl", "shift", "alt", "enter", "tab", "a", "z", "1", "f5", "backspace"])

ACTIONS = st.one_of(
    st.builds(lambda x, y, b, c: action_from_dict({"type": "click", "x": x, "y": y, "button": b, "count": c}),
              unit, unit, st.sampled_from(["left", "right", "middle"]), st.integers(1, 3)),
    st.builds(lambda x, y: action_from_dict({"type": "move", "x": x, "y": y}), unit, unit),
    st.builds(lambda x, y, x2, y2: Drag(x=x, y=y, x2=x2, y2=y2), unit, unit, unit, unit),
    st.builds(lambda x, y, dx, dy: action_from_dict({"type": "scroll", "x": x, "y": y, "dx": dx, "dy": dy}),
              unit, unit, st.integers(-500, 500).map(float), st.integers(-500, 500).map(float)),
    st.builds(lambda t, s: Type(text=t, submit=s), text, st.booleans()),
    st.builds(lambda ks: Key(keys=ks), st.lists(key_name, min_size=1, max_size=3)),
    st.builds(lambda s: action_from_dict({"type": "wait", "seconds": s}), st.integers(0, 60).map(float)),
    st.builds(lambda u: action_from_dict({"type": "goto", "url": u}), text),
    st.builds(lambda a: Done(answer=a), text),
    st.builds(lambda r: action_from_dict({"type": "fail", "reason": r}), text),
    st.sampled_from(["turn_left", "turn_right", "forward", "pickup", "drop", "toggle"]).map(
        lambda k: action_from_dict({"type": k})),
)


def quantized(action):
    """What the 0-1000 grid keeps of an action's coordinates."""
    data = action.model_dump()
    for k in ("x", "y", "x2", "y2"):
        if k in data:
            data[k] = round(data[k] * 1000) / 1000
    return data


@settings(max_examples=400, deadline=None)
@given(ACTIONS)
def test_internvl_codec_round_trips_every_action(action):
    codec = InternVLCodec()
    encoded = codec.encode(action)
    parsed = codec.parse(encoded)
    assert not isinstance(parsed, ActionParseError), (encoded, parsed)
    assert parsed.model_dump() == pytest.approx(quantized(action)) if hasattr(action, "x") else parsed == action
    assert codec.encode(parsed) == encoded  # a fixed point after one trip


@settings(max_examples=200, deadline=None)
@given(ACTIONS)
def test_json_codec_round_trips_exactly(action):
    codec = JSONCodec()
    assert codec.parse(codec.encode(action)) == action


def test_every_action_type_is_covered_by_the_strategy():
    seen = set()

    @settings(max_examples=300, deadline=None)
    @given(ACTIONS)
    def collect(a):
        seen.add(a.type)

    collect()
    assert seen == set(ACTION_TYPES)


def test_encoding_uses_the_internvl_grid():
    codec = InternVLCodec()
    assert codec.encode(Click(x=0.512, y=0.301)) == "click(x=512, y=301)"
    assert codec.encode(Type(text="hello", submit=True)) == 'type(text="hello", submit=true)'
    assert codec.encode(Key(keys=["ctrl", "a"])) == 'key(keys=["ctrl", "a"])'
    assert codec.encode(Done()) == "done()"


@pytest.mark.parametrize("raw, reason_part", [
    ("", "no action call"),
    ("I am not sure what to do.", "no action call"),
    ("jump(x=1)", "no action call"),
    ("click(x=500, y=", "unbalanced"),
    ("click(500, 300)", "by keyword"),
    ("click(x=1001, y=5)", "outside the 0-1000 grid"),
    ("click(x=-3, y=5)", "outside the 0-1000 grid"),
    ('click(x="left", y=5)', "must be a number"),
    ("click(x=true, y=5)", "must be a number"),
    ("click(y=5)", "x: Field required"),
    ("click(x=1, y=2, z=3)", "z: Extra inputs"),
    ("click(x=1, y=2, button='side')", "button"),
    ("type(text=hello)", "must be literals"),
    ("type()", "text: Field required"),
    ("key(keys=[])", "at least 1 item"),
    ("key(keys='ctrl')", "keys"),
    ("wait(seconds=1e9)", "seconds"),
    ("click(x=__import__('os'), y=1)", "must be literals"),
    ("click(**{'x': 1})", "kwargs"),
    ("click(x=1, y=2", "unbalanced"),
])
def test_malformed_text_comes_back_as_an_error_not_an_exception(raw, reason_part):
    result = InternVLCodec().parse(raw)
    assert isinstance(result, ActionParseError)
    assert result.raw == raw
    assert reason_part in result.reason


def test_the_last_call_in_thinking_text_wins():
    text = "First I thought click(x=1, y=1) but the button is lower.\nclick(x=500, y=900)"
    assert InternVLCodec().parse(text) == Click(x=0.5, y=0.9)


def test_json_booleans_and_python_booleans_both_parse():
    codec = InternVLCodec()
    assert codec.parse('type(text="a", submit=True)') == codec.parse('type(text="a", submit=true)')


def test_json_codec_reports_bad_json():
    assert isinstance(JSONCodec().parse("{not json"), ActionParseError)
    assert isinstance(JSONCodec().parse(json.dumps({"type": "click", "x": 2, "y": 0})), ActionParseError)


def test_bins_snap_coordinates_to_cell_centres_and_still_parse():
    codec = InternVLCodec(bins=32)
    assert codec.encode(Click(x=0.0, y=1.0)) == "click(x=16, y=984)"
    assert codec.encode(Click(x=0.523, y=0.117)) == "click(x=516, y=109)"
    values = {codec.snap(i / 997) for i in range(998)}
    assert len(values) == 32  # 32 numbers per axis to learn, not 1001
    back = codec.parse(codec.encode(Click(x=0.3, y=0.7)))
    assert abs(back.x - 0.3) <= 0.5 / 32 and abs(back.y - 0.7) <= 0.5 / 32
    with pytest.raises(ValueError, match="bins must be"):
        InternVLCodec(bins=0)
