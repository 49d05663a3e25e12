"""Your own policy in the agent loop: anything with reset(env) and act(observation, history).

The policy writes text, exactly as a model would; viragent parses it with the InternVL codec, records the raw
text next to the parsed action, and counts unparsable text as a step error.

    python examples/custom_policy.py   # then open runs/custom/report.html
"""

import shutil

from viragent.agent import PolicyOutput, RunConfig, run_episodes


class FocusFirstTextbox:
    """Clicks the middle of the screen on step 0, then declares itself done."""

    name = "focus-first-textbox"

    def reset(self, env):
        """Stateless: the loop passes the episode's history to act()."""

    def act(self, observation, history):
        text = "click(x=500, y=500)" if not history else "done()"
        return PolicyOutput.from_text(text)


shutil.rmtree("runs/custom", ignore_errors=True)
result = run_episodes(RunConfig(env_ids=["miniwob/focus-text"], episodes=5, out="runs/custom"),
                      policy=FocusFirstTextbox())
print(f"success rate: {result.rows[0]['success']:.0%}")
