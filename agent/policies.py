"""Policies: anything that looks at an Observation and answers with an Action, keeping its raw text.

Every policy speaks through a codec, so the expert's and the random policy's steps are recorded in the same
text form a model must produce (and a malformed output goes through the same error path).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from viragent.environments import ExpertStuck, Observation
from viragent.environments.embodied.babyai import CARRIABLE
from viragent.tools import (
    ActionParseError, Click, Drop, Fail, Forward, Key, Pickup, Toggle, TurnLeft, TurnRight, Type, get_codec,
)


@dataclass
class PolicyOutput:
    action: BaseModel | None  # None when the raw text did not parse
    raw_text: str
    error: str | None = None
    stats: dict = field(default_factory=dict)  # n_tokens, logprob_sum, logprob_mean where a model has them

    @classmethod
    def from_text(cls, text: str, codec_name: str = "internvl", **stats) -> "PolicyOutput":
        parsed = get_codec(codec_name).parse(text)
        if isinstance(parsed, ActionParseError):
            return cls(None, text, parsed.reason, stats)
        return cls(parsed, text, None, stats)


@runtime_checkable
class Policy(Protocol):
    name: str

    def reset(self, env) -> None:
        """Called before each episode with the (wrapped) environment."""

    def act(self, observation: Observation, history: list[str]) -> PolicyOutput:
        """The next action; `history` holds the previous actions of this episode in codec text."""


class ExpertPolicy:
    """Asks the environment's scripted expert (`env.unwrapped.expert_action()`): the demonstration source."""

    name = "expert"

    def __init__(self, codec: str = "internvl"):
        self.codec = get_codec(codec)
        self._env = None

    def reset(self, env) -> None:
        self._env = env.unwrapped
        if not hasattr(self._env, "expert_action"):
            raise TypeError(f"{type(self._env).__name__} has no expert_action(); the expert policy needs one")

    def act(self, observation: Observation, history: list[str]) -> PolicyOutput:
        try:
            action = self._env.expert_action()
        except ExpertStuck as exc:  # one unusual seed ends its episode as a recorded failure, not the run
            action = Fail(reason=str(exc))
        return PolicyOutput(action, self.codec.encode(action))


class NoisyExpertPolicy(ExpertPolicy):
    """The expert, except that with probability `noise` it makes a random move instead: noise injection
    (DART, Laskey et al. 2017), done here because no library wraps our envs' experts this way.

    Why: demonstrations never leave the expert's path, so a policy trained on them alone has never seen a state
    one mistake away from it and never learned to recover (measured: viragent-tiny walks into BabyAI walls until
    the step limit). A perturbed step is logged with `perturbed=True` and never becomes a training answer; the
    expert's answers on the states it leads to are what teach the recovery. The expert must therefore plan from
    the current state, as BabyAIBot (told each executed move) and the MiniWoB/desktop experts (which read the
    page) do. Measured once (examples/EXPERIMENTS.md, "A run with noise injection"): it did not make the tiny policy
    recover.

    `learner`: a policy that makes those steps instead of random moves, so the data covers the states that
    policy reaches with its own mistakes, labelled by the expert (DAgger, Ross et al. 2011, with the expert
    and the learner mixed step by step).

    `wrong_pickups`: in a grid world, the share of the steps facing an object the mission does not want now, with
    empty hands, where the collector picks it up (a perturbed step too); the expert then puts it down and goes on.
    Why: the tiny policies pick up the first object they reach, and having done so they tried `pickup()` again
    and again until the step limit (examples/babyai_failures.py on `runs/tiny-q`'s evaluation,
    examples/EXPERIMENTS.md "Putting a wrong object down": 37 of 39 failed pickup episodes), because no
    demonstration ever held a wrong object.
    These show the way back: put it down, look further.
    """

    name = "expert-noisy"
    # Moves only: a random pickup, drop or toggle can make a BabyAI mission impossible (a toggled box vanishes).
    MOVES = (TurnLeft, TurnRight, Forward)

    def __init__(self, noise: float, seed: int = 0, codec: str = "internvl", learner: Policy | None = None,
                 wrong_pickups: float = 0.0):
        for name, share in (("noise", noise), ("wrong_pickups", wrong_pickups)):
            if not 0.0 <= share < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), not {share}")
        super().__init__(codec)
        self.noise, self.rng, self.embodied, self.learner = noise, random.Random(seed), False, learner
        self.wrong_pickups = wrong_pickups

    def reset(self, env) -> None:
        super().reset(env)
        self.embodied = bool(getattr(env.unwrapped, "embodied", False))
        if self.learner is not None:
            self.learner.reset(env)

    def act(self, observation: Observation, history: list[str]) -> PolicyOutput:
        # The expert is asked every step, so a stateful one (BabyAIBot) is told of each move that was executed.
        expert = super().act(observation, history)
        just_put_down = bool(history) and history[-1] == self.codec.encode(Drop())  # not the same object again
        if self.wrong_pickups and not just_put_down and self._facing_unwanted(observation.info) \
                and self.rng.random() < self.wrong_pickups:
            return PolicyOutput(Pickup(), self.codec.encode(Pickup()), stats={"perturbed": True})
        if self.rng.random() >= self.noise:
            return expert
        if self.learner is not None:  # its action runs as it is, even a pickup or a malformed answer
            out = self.learner.act(observation, history)
            return PolicyOutput(out.action, out.raw_text, out.error, {**out.stats, "perturbed": True})
        if self.embodied:
            action = self.rng.choice(self.MOVES)()
        else:  # a click anywhere: mostly on empty page, sometimes on the wrong widget (that episode then fails)
            action = Click(x=round(self.rng.random(), 3), y=round(self.rng.random(), 3))
        return PolicyOutput(action, self.codec.encode(action), stats={"perturbed": True})

    def _facing_unwanted(self, info: dict) -> bool:
        """An object that can be carried is in front, the mission does not want it now, and the hands are empty
        (BabyAIEnv's info: `on_target` False, `front` "red ball", `carrying` "nothing")."""
        front = str(info.get("front", ""))
        return (self.embodied and info.get("on_target") is False and info.get("carrying") == "nothing"
                and front.split(" ")[-1] in CARRIABLE)


class RandomPolicy:
    """Uniformly random clicks (with some typing and Enter) on screens, random moves in grid worlds.

    The floor every learned policy must beat. Seeded, so a run is reproducible.
    """

    name = "random"
    EMBODIED = (TurnLeft, TurnRight, Forward, Pickup, Drop, Toggle)

    def __init__(self, seed: int = 0, codec: str = "internvl"):
        self.rng = random.Random(seed)
        self.codec = get_codec(codec)
        self.embodied = False

    def reset(self, env) -> None:
        self.embodied = bool(getattr(env.unwrapped, "embodied", False))

    def act(self, observation: Observation, history: list[str]) -> PolicyOutput:
        if self.embodied:
            action = self.rng.choice(self.EMBODIED)()
        else:
            roll = self.rng.random()
            if roll < 0.8:
                action = Click(x=round(self.rng.random(), 3), y=round(self.rng.random(), 3))
            elif roll < 0.95:
                action = Type(text=self.rng.choice(["hello", "ok", "123", "test"]))
            else:
                action = Key(keys=["enter"])
        return PolicyOutput(action, self.codec.encode(action))


def make_policy(spec: str, seed: int = 0, temperature: float | None = None) -> Policy:
    """'expert', 'random', or 'internvl:<preset|shipped name|dir>' (a preset gets random weights). `temperature`
    (InternVL only) samples at that temperature in every suite instead of the checkpoint's own decoding."""
    if temperature is not None and not spec.startswith("internvl:"):
        raise ValueError(f"a temperature is for an InternVL policy; {spec!r} does not sample: leave it out")
    if temperature is not None and temperature < 0:
        raise ValueError(f"temperature {temperature} is negative: give 0 for greedy decoding or more to sample")
    if spec == "expert":
        return ExpertPolicy()
    if spec == "random":
        return RandomPolicy(seed=seed)
    if spec.startswith("internvl:"):
        from .internvl_policy import InternVLPolicy  # torch and transformers load only when asked for

        return InternVLPolicy.from_spec(spec.split(":", 1)[1], seed=seed, temperature=temperature)
    raise ValueError(f"unknown policy {spec!r}; use expert, random or internvl:<preset|shipped name|checkpoint dir> "
                     "(e.g. internvl:viragent-tiny)")
