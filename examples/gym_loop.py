"""A plain Gymnasium loop over a MiniWoB task: actions are viragent Actions (or their dicts).

    python examples/gym_loop.py
"""

import gymnasium as gym

import viragent.environments  # noqa: F401  registers viragent/miniwob-<task>-v0
from viragent.tools import InternVLCodec

env = gym.make("viragent/miniwob-click-checkboxes-v0")
codec = InternVLCodec()
for seed in range(3):
    obs, info = env.reset(seed=seed)
    print(f"seed {seed}: {obs['instruction']}  (screen {obs['screenshot'].shape})")
    while True:
        action = env.unwrapped.expert_action()  # swap in your own model here
        obs, reward, terminated, truncated, info = env.step(action)
        print(f"  {codec.encode(action):32s} reward={reward:+.1f}")
        if terminated or truncated:
            print(f"  success: {info['success']}")
            break
env.close()
