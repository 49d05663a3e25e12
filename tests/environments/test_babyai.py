"""BabyAI families in real minigrid levels, BabyAIBot as expert, through env.step(Action)."""

import gymnasium as gym
import numpy as np
import pytest

import viragent.environments  # noqa: F401
from viragent.environments import TaskNotFound, make_env
from viragent.environments.embodied import FAMILIES
from viragent.tools import Click, Forward, Pickup, TurnLeft


@pytest.mark.parametrize("family", list(FAMILIES))
def test_expert_success_rate(family):
    env = make_env(f"babyai/{family}", max_steps=64)
    wins = 0
    for seed in range(50):
        env.reset(seed=seed)
        for _ in range(64):
            action = env.unwrapped.expert_action()
            assert action.type in ("turn_left", "turn_right", "forward", "pickup", "drop", "toggle", "done")
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        wins += info["success"]
    env.close()
    assert wins / 50 >= 0.95, f"{family}: {wins}/50"


def test_pick_up_then_go_to_missions_have_that_form():
    env = make_env("babyai/pick-up-then-go-to")
    for seed in range(10):
        obs, _ = env.reset(seed=seed)
        assert obs["instruction"].startswith("pick up") and ", then go to" in obs["instruction"]


def test_seeded_reset_and_views():
    env = make_env("babyai/goto")
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    assert a["instruction"] == b["instruction"] and np.array_equal(a["screenshot"], b["screenshot"])
    ego = make_env("babyai/goto", view="agent")
    obs, _ = ego.reset(seed=3)
    assert obs["screenshot"].shape == (7 * 16, 7 * 16, 3)  # the agent's 7x7 view


def test_moves_change_the_world_and_screen_actions_are_reported():
    env = make_env("babyai/goto")
    obs, info = env.reset(seed=1)
    obs2, _, _, _, info2 = env.step(TurnLeft())
    assert info2["agent_dir"] == (info["agent_dir"] - 1) % 4 and not np.array_equal(obs["screenshot"], obs2["screenshot"])
    _, _, _, _, info3 = env.step(Click(x=0.5, y=0.5))
    assert "cannot execute 'click'" in info3["action_error"]


def test_expert_follows_another_policys_moves():
    env = make_env("babyai/goto", max_steps=80)
    env.reset(seed=5)
    env.step(Forward())  # someone else moved first; the bot replans from there
    env.step(TurnLeft())
    for _ in range(78):
        _, _, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        if terminated or truncated:
            break
    assert info["success"]


def test_gym_make_and_unknown_family():
    env = gym.make("viragent/babyai-putnext-v0")
    obs, _ = env.reset(seed=0)
    assert obs["instruction"].startswith("put")
    with pytest.raises(TaskNotFound, match="goto"):
        make_env("babyai/fly")


def test_adapter_turns_cartpole_into_an_agent_env():
    from viragent.tools import Key

    env = make_env("gym/cartpole")
    obs, _ = env.reset(seed=0)
    assert obs["screenshot"].shape == (400, 600, 3) and "pole" in obs["instruction"]
    _, reward, _, _, info = env.step(Key(keys=["left"]))
    assert reward == 1.0 and "action_error" not in info
    _, _, _, _, info = env.step(Key(keys=["up"]))
    assert "means nothing here" in info["action_error"]


@pytest.mark.parametrize("view", ["full", "agent"])
def test_object_regions_name_what_the_frame_shows(view):
    env = make_env("babyai/pickup", view=view, text_regions=True)
    _, info = env.reset(seed=4)
    level = env.unwrapped.level
    regions = info["regions"]
    facing = [r for r in regions if r["text"] in ("right", "down", "left", "up")]
    assert len(facing) == 1  # the agent, named by the way it faces on the picture
    if view == "full":
        assert facing[0]["text"] == ("right", "down", "left", "up")[level.agent_dir]
        x, y = level.agent_pos
        assert facing[0]["box"] == [125 * x, 125 * y, 125 * (x + 1), 125 * (y + 1)]  # an 8x8 room
        objects = sorted(o.type for o in level.grid.grid if o is not None and o.type != "wall")
        assert sorted(r["text"] for r in regions if r["text"] not in ("wall", facing[0]["text"])) == objects
    else:
        assert facing[0] == {"text": "up", "box": [429, 857, 571, 1000]}  # bottom centre of the 7x7 view
    # A turn changes what the agent's cell is called (full view) or what lies in front of it (egocentric).
    _, _, _, _, after = env.step(TurnLeft())
    assert after["regions"] != regions
    plain = make_env("babyai/pickup")
    assert "regions" not in plain.reset(seed=4)[1]


@pytest.mark.parametrize("family", ["pickup", "putnext", "pick-up-then-go-to"])
def test_start_next_to_an_object_keeps_the_level_and_the_expert_solves_it(family):
    level_start, object_start = make_env(f"babyai/{family}"), make_env(f"babyai/{family}", start="object")
    named_in_front, other_in_front, wins = 0, 0, 0
    for seed in range(20):
        plain, _ = level_start.reset(seed=seed)
        obs, info = object_start.reset(seed=seed)
        assert obs["instruction"] == plain["instruction"]  # the same level and mission, another start
        level = object_start.unwrapped.level
        front = level.grid.get(*level.front_pos)
        assert front is not None and front.type in ("ball", "box", "key", "door")
        again, _ = object_start.reset(seed=seed)
        assert np.array_equal(again["screenshot"], obs["screenshot"])  # the start is drawn from the seed
        first = object_start.unwrapped.expert_action()
        named_in_front += first.type == "pickup"
        other_in_front += first.type != "pickup"
        for _ in range(64):
            _, _, terminated, truncated, info = object_start.step(object_start.unwrapped.expert_action())
            if terminated or truncated:
                break
        wins += info["success"]
    # What the learner never saw from the level's own starts: an object in front that the expert leaves.
    assert other_in_front >= 10 and wins >= 19, (named_in_front, other_in_front, wins)
    with pytest.raises(ValueError, match="start must be one of level, object"):
        make_env("babyai/goto", start="elsewhere")


@pytest.mark.parametrize("family", ["open", "pickup"])
def test_a_near_object_start_keeps_the_missions_place_words_true(family):
    """"open the door on your left" is relative to where the agent starts. From a start beside an object, the
    objects the verifier (and so the expert) goes for are exactly those the mission's words name from there, read
    afresh; a verifier still fixed at the level's own start would send the expert to another door."""
    from minigrid.envs.babyai.core.verifier import ObjDesc

    env = make_env(f"babyai/{family}", view="agent", start="object")
    moved, placed, wins = 0, 0, 0
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        level = env.unwrapped.level
        desc = level.instrs.desc
        fresh = ObjDesc(desc.type, desc.color, desc.loc)
        fresh.find_matching_objs(level)
        assert fresh.obj_set and [id(o) for o in fresh.obj_set] == [id(o) for o in desc.obj_set], obs["instruction"]
        front = level.grid.get(*level.front_pos)
        moved += front is not None and front.type in ("ball", "box", "key", "door")
        placed += desc.loc is not None
        for _ in range(64):
            _, _, terminated, truncated, info = env.step(env.unwrapped.expert_action())
            if terminated or truncated:
                break
        wins += info["success"]
    assert moved >= 18 and wins == 20 and placed >= {"open": 20, "pickup": 2}[family], (moved, wins, placed)


@pytest.mark.parametrize("family", ["pickup", "putnext", "pick-up-then-go-to"])
def test_the_expert_puts_a_wrong_object_down_and_still_solves_the_mission(family):
    """Holding an object the mission cannot use now (a policy's wrong pickup), the expert drops it, on the cell in
    front or after turning to a free one, then finishes the mission; BabyAIBot alone cannot plan from there."""
    from viragent.environments.embodied.babyai import carrying_unwanted

    env = make_env(f"babyai/{family}", view="agent", start="object")
    held, wins = 0, 0
    for seed in range(12):
        _, info = env.reset(seed=seed)
        level = env.unwrapped.level
        if info["on_target"] is not False or info["front"].split(" ")[-1] not in ("ball", "box", "key"):
            continue
        _, _, _, _, info = env.step(Pickup())  # the wrong object, as a policy would
        assert info["carrying"] != "nothing" and carrying_unwanted(level)
        held += 1
        actions = []
        for _ in range(64):
            action = env.unwrapped.expert_action()
            actions.append(action.type)
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        assert "drop" in actions[:4] and set(actions[:actions.index("drop")]) <= {"turn_left"}, actions
        wins += info["success"]
    assert held >= 4 and wins == held, (held, wins)
    _, info = env.reset(seed=0)
    assert info["carrying"] == "nothing" and not carrying_unwanted(env.unwrapped.level)


def test_info_names_what_the_agent_faces():
    """info["front"] names the cell in front in a mission's words: the cell above the agent in its own 7x7 view."""
    from viragent.environments.embodied.babyai import describe

    env = make_env("babyai/pickup", view="agent", start="object")
    seen = set()
    for seed in range(6):
        _, info = env.reset(seed=seed)
        level = env.unwrapped.level
        front = level.gen_obs_grid()[0].get(3, 5)  # the egocentric grid: the agent at (3, 6), facing up
        assert info["front"] == f"{front.color} {front.type}" or info["front"].startswith(f"{front.color} door (")
        for action in (TurnLeft(), TurnLeft(), Forward()):  # away from the object: floor cells and walls
            _, _, _, _, info = env.step(action)
            assert info["front"] == describe(level.gen_obs_grid()[0].get(3, 5))
            seen.add(info["front"])
    assert {"nothing", "wall"} <= seen


@pytest.mark.parametrize("family", ["pickup", "putnext", "pick-up-then-go-to"])
def test_target_follows_the_mission_and_the_expert_picks_up_only_what_it_faces(family):
    """info["target"] is what the mission asks for at this point (a putnext's second object once the first is
    carried); info["on_target"] is True exactly where the expert's pickups happen, and False in front of others."""
    env = make_env(f"babyai/{family}", view="agent", start="object")
    seen_other, targets = 0, set()
    for seed in range(8):
        obs, info = env.reset(seed=seed)
        mission, carried = obs["instruction"], False
        for _ in range(64):
            action = env.unwrapped.expert_action()
            assert info["target"].split()[-1] in mission  # its type, as the mission says it
            if action.type == "pickup" and not carried:
                assert info["on_target"] is True, (mission, info)
            seen_other += info["on_target"] is False
            targets.add((mission, info["target"]))
            _, _, terminated, truncated, info = env.step(action)
            carried = carried or action.type == "pickup"
            if terminated or truncated:
                break
        assert info["success"]
    assert seen_other > 0
    if family != "pickup":  # a two-part mission names two targets in turn
        assert len(targets) > len({m for m, _ in targets})


@pytest.mark.parametrize("view", ["agent", "full"])
def test_target_box_frames_the_object_the_mission_asks_for(view):
    """info["target_box"] is the cell, 0-1000 of the frame, of a shown object the mission asks for now: where the
    frame draws it (the pixels under its centre are not the floor's), and in front of the agent when the expert picks
    it up; None when the frame shows none of them."""
    from viragent.environments.embodied.babyai import current_target

    env = make_env("babyai/putnext", view=view)
    boxes, nones = 0, 0
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        for _ in range(64):
            level = env.unwrapped.level
            box = info["target_box"]
            if box is None:
                nones += 1
            else:
                boxes += 1
                grid = level.gen_obs_grid()[0] if view == "agent" else level.grid
                i, j = round(box[0] * grid.width / 1000), round(box[1] * grid.height / 1000)
                assert any(grid.get(i, j) is o for o in current_target(level)[1])
                frame = obs["screenshot"]
                cy, cx = (box[1] + box[3]) * frame.shape[0] // 2000, (box[0] + box[2]) * frame.shape[1] // 2000
                assert frame[cy, cx].tolist() != [0, 0, 0]  # drawn, not the unseen black or empty floor
            action = env.unwrapped.expert_action()
            if view == "agent" and action.type == "pickup":
                assert box == [429, 714, 571, 857]  # the cell above the agent in its 7x7 view
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
    assert boxes > 0 and (nones > 0 or view == "full")


def test_padded_view_puts_each_cell_on_one_visual_token():
    """tile_size=28, pad_cells=1: the 7x7 egocentric view drawn as 8x8 cells of 28 px, a 224-px tile whose cells are
    the policy's visual tokens. The picture is the unpadded one with a blank row above and a blank column to the
    right, and the boxes the log keeps (regions, target_box) follow it onto the 8x8 grid."""
    plain = make_env("babyai/putnext", view="agent", tile_size=28, text_regions=True)
    padded = make_env("babyai/putnext", view="agent", tile_size=28, pad_cells=1, text_regions=True)
    (a, _), (b, info_b) = plain.reset(seed=5), padded.reset(seed=5)
    assert b["screenshot"].shape == (224, 224, 3)
    assert np.array_equal(b["screenshot"][28:, :196], a["screenshot"])
    assert not b["screenshot"][:28].any() and not b["screenshot"][:, 196:].any()
    agent = [r for r in info_b["regions"] if r["text"] == "up"]
    assert agent == [{"text": "up", "box": [375, 875, 500, 1000]}]  # column 3, bottom row of eight
    assert all(v % 125 == 0 for r in info_b["regions"] for v in r["box"])
    for _ in range(30):  # walk until the named object is shown, then check its box lands on its pixels
        if info_b["target_box"] is not None:
            box = info_b["target_box"]
            cy, cx = (box[1] + box[3]) * 224 // 2000, (box[0] + box[2]) * 224 // 2000
            assert b["screenshot"][cy, cx].tolist() != [0, 0, 0]
            break
        b, _, _, _, info_b = padded.step(padded.unwrapped.expert_action())
    else:
        pytest.fail("the named object never came into view")
    with pytest.raises(ValueError, match="pad_cells"):
        make_env("babyai/goto", pad_cells=-1)
