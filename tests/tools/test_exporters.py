import pytest

from viragent.tools import (
    Click, Done, Drag, Forward, Key, NotExportable, Type, UnknownKey, action_from_dict, to_browsergym,
    to_playwright, to_pyautogui_code,
)


def test_pyautogui_code_scales_to_pixels():
    assert to_pyautogui_code(Click(x=0.5, y=0.25), 1920, 1080) == \
        "pyautogui.click(x=960, y=270, clicks=1, button='left')"
    assert to_pyautogui_code(Key(keys=["ctrl", "a"]), 100, 100) == "pyautogui.hotkey('ctrl', 'a')"
    assert to_pyautogui_code(Type(text="hi", submit=True), 100, 100) == "pyautogui.write('hi')\npyautogui.press('enter')"
    scroll = action_from_dict({"type": "scroll", "x": 0.5, "y": 0.5, "dy": 120})
    assert to_pyautogui_code(scroll, 200, 100) == "pyautogui.moveTo(100, 50)\npyautogui.scroll(-120)"


def test_pyautogui_code_runs_as_python():
    calls = []

    class FakePyautogui:  # stands for the real module, which needs a display (tested with the desktop env)
        def __getattr__(self, name):
            return lambda *a, **k: calls.append((name, a, k))

    code = to_pyautogui_code(Drag(x=0.1, y=0.2, x2=0.3, y2=0.4), 1000, 1000)
    exec(code, {"pyautogui": FakePyautogui()})
    assert calls == [("moveTo", (100, 200), {}), ("dragTo", (300, 400), {"button": "left"})]


def test_browsergym_strings():
    assert to_browsergym(Click(x=0.5, y=0.5), 160, 210) == 'mouse_click(80.0, 105.0, button="left")'
    assert to_browsergym(Click(x=0.5, y=0.5, count=2), 160, 210) == 'mouse_dblclick(80.0, 105.0, button="left")'
    assert to_browsergym(Key(keys=["ctrl", "a"]), 1, 1) == 'keyboard_press("Control+a")'
    assert to_browsergym(Type(text='say "hi"'), 1, 1) == 'keyboard_type("say \\"hi\\"")'
    assert to_browsergym(Done(answer="42"), 1, 1) == 'send_msg_to_user("42")'


def test_grid_moves_are_not_exportable_to_screen_tools():
    with pytest.raises(NotExportable):
        to_browsergym(Forward(), 1, 1)
    with pytest.raises(NotExportable):
        to_pyautogui_code(Forward(), 1, 1)


def test_unknown_key_names_are_rejected_with_the_list():
    assert to_playwright(["shift", "Tab"]) == "Shift+Tab"
    with pytest.raises(UnknownKey, match="one of"):
        to_playwright(["hyper"])
