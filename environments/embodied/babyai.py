"""BabyAI grid worlds (the `minigrid` package) as agent environments, with minigrid's BabyAIBot as the expert.

The five task families BALROG evaluates. Four are levels registered by the PyPI release; "pick up, then go
to" is built from the release's own LevelGen (sequences of pickup/goto), keeping only missions of that form.
"""

from __future__ import annotations

import contextlib
import io
import re

import gymnasium as gym
import numpy as np

from ..core import ExpertStuck, checked_action, observation_space

# Our embodied Action types -> minigrid's discrete actions.
MINIGRID_ACTIONS = {"turn_left": 0, "turn_right": 1, "forward": 2, "pickup": 3, "drop": 4, "toggle": 5, "done": 6}
ACTION_NAMES = {v: k for k, v in MINIGRID_ACTIONS.items()}

FAMILIES = {
    "goto": "BabyAI-GoToLocal-v0",
    "pickup": "BabyAI-PickupLoc-v0",
    "open": "BabyAI-OpenDoorLoc-v0",
    "putnext": "BabyAI-PutNextLocal-v0",
    "pick-up-then-go-to": None,  # built from LevelGen below
}


def _make_level(family: str, **kwargs):
    import minigrid  # noqa: F401  (registers the BabyAI ids)

    if family == "pick-up-then-go-to":
        from minigrid.envs.babyai.core.levelgen import LevelGen

        return LevelGen(room_size=8, num_rows=1, num_cols=1, num_dists=8, locked_room_prob=0, locations=False,
                        unblocking=False, implicit_unlock=False, action_kinds=["pickup", "goto"],
                        instr_kinds=["seq"], **kwargs)
    return gym.make(FAMILIES[family], **kwargs).unwrapped


def _is_pickup_then_goto(level) -> bool:
    from minigrid.envs.babyai.core.verifier import BeforeInstr, GoToInstr, PickupInstr

    instrs = level.instrs
    return isinstance(instrs, BeforeInstr) and isinstance(instrs.instr_a, PickupInstr) and \
        isinstance(instrs.instr_b, GoToInstr)


def _descriptions(instr) -> list:
    """Every object description in a mission: a sequence's parts, a putnext's two objects."""
    parts = [getattr(instr, name) for name in ("instr_a", "instr_b") if hasattr(instr, name)]
    if parts:
        return [desc for part in parts for desc in _descriptions(part)]
    return [getattr(instr, name) for name in ("desc", "desc_move", "desc_fixed") if hasattr(instr, name)]


# Where an episode starts: the level's own start, or beside one of its objects (BabyAIEnv's docstring).
STARTS = ("level", "object")

# The word that labels the agent's cell in a frame: which way it faces on the picture (minigrid's agent_dir
# 0-3 is east, south, west, north). In the egocentric view it always faces up.
FACING_WORDS = ("right", "down", "left", "up")
CARRIABLE = ("ball", "box", "key")


def describe(cell) -> str:
    """A grid cell in a mission's words: "red ball", "blue door (locked)", "wall", or "nothing".

    A door's colour comes first and its state last, as a ball's colour does: with the state first ("closed red
    door") look-first policies named every closed door "closed yellow door" though a linear probe read the colour
    from their visual tokens in 98 % of scenes; colour first, the same fine-tune named it in 74 %
    (examples/EXPERIMENTS.md "Look first", examples/babyai_door_probe.py)."""
    if cell is None:
        return "nothing"
    if cell.type == "door":
        state = "locked" if cell.is_locked else "open" if cell.is_open else "closed"
        return f"{cell.color} door ({state})"
    if cell.type in CARRIABLE:
        return f"{cell.color} {cell.type}"
    return cell.type  # wall, goal, lava


_STATE_FIRST_DOOR = re.compile(r"\b(open|closed|locked) (red|green|blue|purple|yellow|grey) door\b")


def colour_first(front: str) -> str:
    """A door named as runs collected before describe() put its colour first ("closed red door"), named as now
    ("red door (closed)"); anything else unchanged. Export applies it, so earlier runs train the same words."""
    return _STATE_FIRST_DOOR.sub(r"\2 door (\1)", front)


def object_words(front: str) -> str:
    """What a mission calls the object `describe` named: "red door (closed)" -> "red door"."""
    return front.split(" (")[0]


def door_state(front: str) -> str | None:
    """ "closed" for "red door (closed)"; None for anything that is not a door."""
    return front.split(" (")[1].rstrip(")") if front.endswith(")") and " door (" in front else None


def _current_part(level):
    """The part of the mission being worked on: a sequence's first part until minigrid's verifier marks it done."""
    from minigrid.envs.babyai.core.verifier import AfterInstr, BeforeInstr

    instr = level.instrs
    if isinstance(instr, BeforeInstr):
        return instr.instr_b if instr.a_done == "success" else instr.instr_a
    if isinstance(instr, AfterInstr):
        return instr.instr_a if instr.b_done == "success" else instr.instr_b
    return instr


def current_target(level) -> tuple[str, list]:
    """What the mission asks the agent to reach now, as (words, objects): ("red ball", [the level's red balls]).

    A sequence ("pick up the key, then go to the box") is at its first part until minigrid's verifier marks that
    part done; "put the X next to the Y" is after X until the agent carries it, then after Y. The words are the
    description's colour and type, as `describe` names a cell but without a door's state ("blue door").
    """
    from minigrid.envs.babyai.core.verifier import PutNextInstr

    instr = _current_part(level)
    if isinstance(instr, PutNextInstr):
        carrying = level.carrying is not None and any(level.carrying is o for o in instr.desc_move.obj_set)
        desc = instr.desc_fixed if carrying else instr.desc_move
    else:
        desc = instr.desc
    return " ".join(w for w in (desc.color, desc.type) if w), list(desc.obj_set)


def carrying_unwanted(level) -> bool:
    """Whether the agent holds an object the mission's current part cannot use: anything while it is asked to pick
    something up (a wanted one would have ended that part), anything but the object to move in a putnext.

    BabyAIBot never plans from such a state (its pickup asserts empty hands), and a policy reaches it by picking up
    the wrong object: the expert then puts the object down first (BabyAIEnv.expert_action)."""
    from minigrid.envs.babyai.core.verifier import PickupInstr, PutNextInstr

    if level.carrying is None:
        return False
    instr = _current_part(level)
    if isinstance(instr, PickupInstr):
        return True
    if isinstance(instr, PutNextInstr):
        return not any(level.carrying is o for o in instr.desc_move.obj_set)
    return False


def _cell_box(i: int, j: int, grid, pad: int = 0) -> list[int]:
    """Cell (i, j)'s box, 0-1000 of a frame that draws `grid` edge to edge with `pad` blank cells above it and to
    its right (BabyAIEnv's `pad_cells`)."""
    width, height = grid.width + pad, grid.height + pad
    return [round(1000 * i / width), round(1000 * (j + pad) / height),
            round(1000 * (i + 1) / width), round(1000 * (j + 1 + pad) / height)]


def grid_object(kind: str, colour: str, state: int = 0):
    """A minigrid object by type and colour; a door's `state` as minigrid encodes it (0 open, 1 closed, 2 locked).
    For scenes described without a level (agent/grid_questions.py's pure-text questions)."""
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX
    from minigrid.core.world_object import WorldObj

    return WorldObj.decode(OBJECT_TO_IDX[kind], COLOR_TO_IDX[colour], state)


class BabyAIEnv(gym.Env):
    """One BabyAI family. Observation: an RGB frame (`view="full"` grid or `view="agent"` egocentric) + mission.

    `start="object"` starts each episode next to one of the level's objects (drawn from the seed), facing it,
    instead of where the level put the agent. It is for collecting demonstrations, not for evaluation: an expert
    that only walks straight to the named object never shows what to do in front of another one, and that is
    where a learner goes wrong (examples/babyai_failures.py: the first object picked up is mostly not the named
    one). The mission and the objects are the level's own; the verifier re-reads the mission from the new start, so
    its place words ("the door on your left") name what they say from there (`_start_next_to_an_object`).

    `text_regions=True` adds `info["regions"]`: each object the frame shows, named by one word (its type, or
    for the agent the way it faces), with its box, 0-1000 of the frame. They are the grid-world counterpart
    of a browser's visible words: dense labels for the region-token loss (model/train/region_tokens.py).

    `tile_size` is the pixels a cell is drawn with; `pad_cells=N` adds N blank (black) rows of cells above the frame
    and N columns to its right. Together they can line the world's cells up with the policy's visual tokens:
    `tile_size=28, pad_cells=1` draws the 7x7 egocentric view as 8x8 cells of 28 px, one 224-px InternVL tile in
    which each cell is exactly one visual token (2x2 patches of 14 px, merged by the pixel shuffle). The default
    (16 px, no padding) is resized by the processor to cells of 32 px, which straddle the 28-px tokens and fall on
    the 14-px patch grid at seven different offsets, so the same object looks different in every column. Aligned is
    not better for the tiny recipe, though: trained on it, its BabyAI fell from 55.7 % to 44.4 %
    (examples/EXPERIMENTS.md "BabyAI cells on the visual tokens"), so the default stays.

    `info["target_box"]` is the box (0-1000 of the frame) of the nearest object the mission asks for now that the
    frame shows, None when it shows none: where a pointer should look (`export --point-targets`).

    `info["front"]` names the cell the agent faces in a mission's words ("red ball", "blue door (closed)", "wall",
    "nothing"). The run log keeps it, and `viragent export --think-front` writes it before the expert's action.
    `info["target"]` names what the mission asks for now (`current_target`) and `info["on_target"]` says whether
    the agent faces one of those objects (None when it faces no object); `export --think-target` writes both.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    embodied = True  # policies that act on screens switch to grid moves

    def __init__(self, family: str, view: str = "full", tile_size: int = 16, max_steps: int = 64,
                 render_mode: str | None = "rgb_array", text_regions: bool = False, start: str = "level",
                 pad_cells: int = 0):
        if family not in FAMILIES:
            from ..core import TaskNotFound

            raise TaskNotFound(f"unknown BabyAI family {family!r}; available: {', '.join(FAMILIES)}")
        if view not in ("full", "agent"):
            raise ValueError(f"view must be 'full' or 'agent', not {view!r}")
        if start not in STARTS:
            raise ValueError(f"start must be one of {', '.join(STARTS)}, not {start!r}")
        if not isinstance(pad_cells, int) or pad_cells < 0:
            raise ValueError(f"pad_cells must be a whole number of cells, 0 or more, not {pad_cells!r}")
        self.start, self.pad_cells = start, pad_cells
        self.family, self.view, self.tile_size, self.max_steps = family, view, tile_size, max_steps
        self.render_mode, self.text_regions = render_mode, text_regions
        self.level = _make_level(family)
        frame = self._frame_after_reset_probe()
        self.observation_space = observation_space(*frame.shape[:2])
        self.action_space = gym.spaces.Text(max_length=256)
        self._bot = None
        self._bot_step = -1
        self._bot_action: int | None = None
        self._last_action: int | None = None
        self._steps = 0

    def _frame_after_reset_probe(self) -> np.ndarray:
        with contextlib.redirect_stdout(io.StringIO()):
            self.level.reset(seed=0)
        return self._frame()

    def _frame(self) -> np.ndarray:
        frame = self.level.get_frame(highlight=self.view == "full", tile_size=self.tile_size,
                                     agent_pov=self.view == "agent")
        pad = self.pad_cells * self.tile_size
        return np.pad(frame, ((pad, 0), (0, pad), (0, 0))) if pad else frame

    def _obs(self) -> dict:
        return {"screenshot": self._frame(), "instruction": self.level.mission}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        level_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        # minigrid's level generator prints each rejected sample; keep that off the user's terminal.
        with contextlib.redirect_stdout(io.StringIO()):
            self.level.reset(seed=level_seed)
            if self.family == "pick-up-then-go-to":
                # Resample deterministically (seed, seed + 1_000_003, …) until the mission has the family's form.
                tries = 1
                while not _is_pickup_then_goto(self.level):
                    self.level.reset(seed=level_seed + tries * 1_000_003)
                    tries += 1
        if self.start == "object":
            self._start_next_to_an_object()
        self._steps, self._bot, self._bot_step, self._last_action = 0, None, -1, None
        return self._obs(), self._info(success=False)

    def _start_next_to_an_object(self) -> None:
        """Move the agent onto a free cell beside a random object (ball, box, key or door), facing it, where the
        mission still names something from there. A level with no such start keeps its own.

        Why the mission is re-read: a mission's place words ("open the door on your left", "pick up a ball in
        front of you": every OpenDoorLoc mission, about a third of PickupLoc's) are relative to where the agent
        starts, and minigrid's verifier fixed its objects from the level's own start. Moving the agent without
        re-reading them would give demonstrations whose words contradict the picture: the expert facing a door
        after "open a door in front of you" would turn away to the door that was in front of the old start.
        """
        from minigrid.core.constants import DIR_TO_VEC

        level, grid, choices = self.level, self.level.grid, []
        for i in range(grid.width):
            for j in range(grid.height):
                cell = grid.get(i, j)
                if cell is None or cell.type not in ("ball", "box", "key", "door"):
                    continue
                for direction, (dx, dy) in enumerate(DIR_TO_VEC):
                    x, y = i - int(dx), j - int(dy)  # stand here, face `direction`, and the object is in front
                    if 0 < x < grid.width - 1 and 0 < y < grid.height - 1 and grid.get(x, y) is None:
                        choices.append((cell, (x, y), direction))
        level_start = (level.agent_pos, level.agent_dir)
        # One object first, then one side of it: every object equally likely, however many free sides it has.
        # Objects from which the mission names nothing are dropped and another is drawn.
        objects = list(dict.fromkeys(id(cell) for cell, _, _ in choices))
        while objects:
            picked = objects.pop(int(self.np_random.integers(len(objects))))
            sides = [(pos, direction) for cell, pos, direction in choices if id(cell) == picked]
            pos, direction = sides[int(self.np_random.integers(len(sides)))]
            level.agent_pos, level.agent_dir = np.array(pos), direction
            level.instrs.reset_verifier(level)
            if all(desc.obj_set for desc in _descriptions(level.instrs)):
                return
        level.agent_pos, level.agent_dir = level_start
        level.instrs.reset_verifier(level)

    def step(self, action):
        action, error = checked_action(action, MINIGRID_ACTIONS, "BabyAI")
        self._steps += 1
        reward, terminated, truncated = 0.0, False, False
        if error is None:
            index = MINIGRID_ACTIONS[action.type]
            _, reward, terminated, truncated, _ = self.level.step(index)
            self._last_action = index
            terminated = terminated or action.type == "done"
        else:
            self._last_action = None
        truncated = not terminated and (truncated or self._steps >= self.max_steps)
        info = self._info(success=bool(terminated and reward > 0))
        if error:
            info["action_error"] = error
        return self._obs(), float(reward), bool(terminated), bool(truncated), info

    def _info(self, success: bool) -> dict:
        facing = self.level.grid.get(*self.level.front_pos)
        target, wanted = current_target(self.level)
        info = {"task": f"babyai/{self.family}", "step": self._steps, "success": success,
                "agent_pos": [int(v) for v in self.level.agent_pos], "agent_dir": int(self.level.agent_dir),
                "front": describe(facing), "target": target, "carrying": describe(self.level.carrying),
                "on_target": None if facing is None or facing.type not in (*CARRIABLE, "door")
                else any(facing is o for o in wanted)}
        shown = self._shown_grid()  # one egocentric grid for both (gen_obs_grid slices and rotates the level's)
        info["target_box"] = self.target_box(wanted, shown)
        if self.text_regions:
            info["regions"] = self.object_regions(shown)
        return info

    def _shown_grid(self):
        """(grid, visible mask or None, the agent's cell, the way it faces) as the frame draws them."""
        if self.view == "full":
            return self.level.grid, None, tuple(self.level.agent_pos), FACING_WORDS[self.level.agent_dir]
        # the agent's view, as get_pov_render draws it: the agent at the bottom centre, facing up
        grid, shown = self.level.gen_obs_grid()
        size = self.level.agent_view_size
        return grid, shown, (size // 2, size - 1), "up"

    def target_box(self, wanted: list, shown_grid: tuple | None = None) -> list[int] | None:
        """The box (0-1000 of the frame) of the shown object nearest the agent among `wanted`, or None."""
        grid, shown, (ax, ay), _ = shown_grid or self._shown_grid()
        cells = [(abs(i - ax) + abs(j - ay), i, j) for j in range(grid.height) for i in range(grid.width)
                 if (i, j) != (ax, ay) and (shown is None or shown[i, j])
                 and any(grid.get(i, j) is o for o in wanted)]  # the view's grid holds the level's own objects
        if not cells:
            return None
        _, i, j = min(cells)
        return _cell_box(i, j, grid, self.pad_cells)

    def object_regions(self, shown_grid: tuple | None = None) -> list[dict]:
        """Every object in the frame as {"text": one word, "box": [x0, y0, x1, y1]} (0-1000 of the frame)."""
        grid, shown, agent, facing = shown_grid or self._shown_grid()
        regions = []
        for j in range(grid.height):
            for i in range(grid.width):
                cell = grid.get(i, j)
                if (i, j) == agent:
                    text = facing
                elif cell is None or (shown is not None and not shown[i, j]):
                    continue
                else:
                    text = cell.type  # wall, door, key, ball, box, goal, lava
                regions.append({"text": text, "box": _cell_box(i, j, grid, self.pad_cells)})
        return regions

    def render(self):
        return self._frame()

    def expert_action(self):
        """BabyAIBot's next move. The bot is told each executed move, so it follows any policy's steps.

        Holding an object the mission cannot use (a wrong pickup), the expert first puts it down, on the cell in
        front or, if that is taken, after turning left; the bot then plans afresh from empty hands."""
        if carrying_unwanted(self.level):
            self._bot = None  # replanned on the next step, from empty hands
            front_free = self.level.grid.get(*self.level.front_pos) is None
            return _action(self.level.actions.drop if front_free else self.level.actions.left)
        if self._bot_step != self._steps:
            if self._bot is None or self._bot_step != self._steps - 1 or self._last_action is None:
                return self.replan()
            try:
                self._bot_action = self._bot.replan(self._last_action)
            except (AssertionError, IndexError, KeyError, ValueError):
                # BabyAIBot's memory of what it has explored can contradict a state reached by moves it did
                # not suggest (a policy's or a noisy collector's): plan again from the current state.
                return self.replan()
            self._bot_step = self._steps
        return _action(self._bot_action)

    def replan(self):
        """BabyAIBot's next move planned afresh from the current state, forgetting any earlier plan. For callers
        that change the level outside step() (a probe turning the agent in place), and after a broken plan."""
        from minigrid.utils.baby_ai_bot import BabyAIBot

        self._bot = BabyAIBot(self.level)
        try:
            self._bot_action = self._bot.replan()
        except (AssertionError, IndexError, KeyError, ValueError) as exc:
            raise ExpertStuck(f"BabyAIBot cannot plan from this state ({exc})") from exc
        self._bot_step = self._steps
        return _action(self._bot_action)


def _action(minigrid_action: int):
    from viragent.tools import action_from_dict

    return action_from_dict({"type": ACTION_NAMES[int(minigrid_action)]})
