"""Read a run back: step and episode tables (Arrow), screens, raw texts.

    viragent run --env miniwob/click-button --episodes 5 --out runs/demo
    python examples/read_run.py runs/demo
"""

import sys

from PIL import Image

from viragent.agent import load_run

run = load_run(sys.argv[1] if len(sys.argv) > 1 else "runs/demo")
for episode in run.episodes.to_pylist():
    print(episode["episode_id"], episode["env_id"], episode["seed"], episode["success"], episode["steps"],
          episode["end_reason"])
for step in run.steps.to_pylist()[:5]:
    screen = Image.open(run.screen_path(step["screenshot"]))
    print(step["episode_id"], step["step"], screen.size, step["raw_text"], "->", step["action"])
