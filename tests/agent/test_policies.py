"""The expert policy: a seed its expert cannot solve ends that episode as a recorded failure, not the run."""

from viragent.agent import ExpertPolicy
from viragent.environments import ExpertStuck, make_env
from viragent.tools import Fail


def test_a_stuck_expert_fails_its_episode_instead_of_raising():
    env = make_env("babyai/goto")
    env.reset(seed=0)

    def stuck():
        raise ExpertStuck("no visible element ('button',) for 'Click button ONE.'")

    env.unwrapped.expert_action = stuck  # the real env, with its expert made to hit an unusual state
    policy = ExpertPolicy()
    policy.reset(env)
    out = policy.act(None, [])
    assert isinstance(out.action, Fail) and "no visible element" in out.action.reason
    assert out.raw_text.startswith("fail(")
    env.close()
