"""Any Gymnasium env with `render_mode="rgb_array"` and a Discrete action space, as an agent environment.

The user names the instruction and which Action means which discrete index: an action type ("forward") or a
key press ("key:left"), so e.g. CartPole becomes "press left / right to keep the pole up".
"""

from __future__ import annotations

import gymnasium as gym

from ..core import observation_space


class DiscreteGymEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, env: gym.Env | str, instruction: str, action_names: dict[str, int], max_steps: int = 200,
                 **make_kwargs):
        self.env = gym.make(env, render_mode="rgb_array", **make_kwargs) if isinstance(env, str) else env
        if not isinstance(self.env.action_space, gym.spaces.Discrete):
            raise TypeError(f"the adapter needs a Discrete action space, not {self.env.action_space}")
        if self.env.render_mode != "rgb_array":
            raise ValueError("the wrapped env must be made with render_mode='rgb_array'")
        bad = {name: i for name, i in action_names.items() if not self.env.action_space.contains(i)}
        if bad:
            raise ValueError(f"action indices outside {self.env.action_space}: {bad}")
        self.instruction, self.action_names, self.max_steps = instruction, dict(action_names), max_steps
        self.env.reset(seed=0)
        self.observation_space = observation_space(*self.env.render().shape[:2])
        self.action_space = gym.spaces.Text(max_length=256)
        self.render_mode = "rgb_array"
        self.embodied = any(not name.startswith("key:") for name in action_names)
        self._steps = 0

    @staticmethod
    def action_key(action) -> str:
        return "key:" + "+".join(action.keys) if action.type == "key" else action.type

    def _obs(self) -> dict:
        return {"screenshot": self.env.render(), "instruction": self.instruction}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        _, info = self.env.reset(seed=seed, options=options)
        self._steps = 0
        return self._obs(), {**info, "step": 0, "success": None}

    def step(self, action):
        from viragent.tools import action_from_dict

        action = action_from_dict(action)
        self._steps += 1
        key = self.action_key(action)
        if key not in self.action_names:
            info = {"step": self._steps, "success": None,
                    "action_error": f"{key!r} means nothing here; this env takes {sorted(self.action_names)}"}
            return self._obs(), 0.0, False, self._steps >= self.max_steps, info
        _, reward, terminated, truncated, info = self.env.step(self.action_names[key])
        truncated = bool(truncated or (not terminated and self._steps >= self.max_steps))
        return self._obs(), float(reward), bool(terminated), truncated, {**info, "step": self._steps, "success": None}

    def render(self):
        return self.env.render()

    def close(self):
        self.env.close()
