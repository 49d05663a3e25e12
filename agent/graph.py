"""The agent loop as a LangGraph StateGraph: observe -> act -> execute -> record -> (END | observe).

State is plain data (what a checkpointer can store); the live environment, policy, run writer and the
current screen travel in the run's `context`. One graph invocation is one episode.
"""

from __future__ import annotations

import json
import operator
import time
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from viragent.environments import BrowserCrashed, Observation
from viragent.tools import get_codec

from .policies import Policy, PolicyOutput
from .trajectory import RunWriter, Step


# History and logs keep actions in one text form, whatever codec the policy itself speaks.
_CODEC = get_codec("internvl")


class EpisodeState(TypedDict, total=False):
    run_id: str
    env_id: str
    episode_id: int
    seed: int | None
    instruction: str
    step: int
    history: Annotated[list[str], operator.add]  # the episode's actions in codec text
    screen: str  # file name of the screen the policy is looking at
    pending: dict  # the policy's answer for this step (action JSON, raw text, error, stats, ms)
    result: dict  # what the env made of it (reward, flags, errors, ms)
    errors: int
    reward_total: float
    success: bool
    done: bool
    end_reason: str


@dataclass
class AgentContext:
    """Live handles for one episode; never checkpointed."""

    env: Any
    policy: Policy
    writer: RunWriter
    max_steps: int = 10
    error_budget: int = 3
    history_window: int = 8
    observation: Observation | None = None  # the screen the policy acts on
    next_observation: Observation | None = None  # what execute got back; record makes it current


def observe(state: EpisodeState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    if ctx.observation is None:  # first step: start the episode
        obs, info = ctx.env.reset(seed=state.get("seed"))
        ctx.policy.reset(ctx.env)
        ctx.observation = Observation.from_gym(obs, info)
    screen = f"{state['episode_id']:06d}-{state.get('step', 0):03d}.png"
    return {"instruction": ctx.observation.instruction, "screen": screen}


def act(state: EpisodeState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    t0 = time.perf_counter()
    out: PolicyOutput = ctx.policy.act(ctx.observation, state.get("history", [])[-ctx.history_window:])
    policy_ms = (time.perf_counter() - t0) * 1000
    codec_text = _CODEC.encode(out.action) if out.action is not None else None
    return {"pending": {
        "action": json.dumps(out.action.model_dump(mode="json")) if out.action is not None else None,
        "action_text": codec_text, "raw_text": out.raw_text, "parse_error": out.error,
        "stats": out.stats, "policy_ms": policy_ms,
    }}


def execute(state: EpisodeState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    pending = state["pending"]
    result = {"reward": 0.0, "terminated": False, "truncated": False, "success": None, "action_error": None,
              "env_ms": 0.0, "url": ctx.observation.info.get("url"), "elapsed": ctx.observation.info.get("elapsed", 0.0),
              "crashed": False}
    if pending["action"] is None:  # unparsable output: a no-op, the screen stays as it is
        ctx.next_observation = ctx.observation
        return {"result": result}
    t0 = time.perf_counter()
    try:
        obs, reward, terminated, truncated, info = ctx.env.step(json.loads(pending["action"]))
    except BrowserCrashed as exc:
        result.update(action_error=str(exc), crashed=True, env_ms=(time.perf_counter() - t0) * 1000)
        return {"result": result}
    result.update(reward=float(reward), terminated=bool(terminated), truncated=bool(truncated),
                  success=info.get("success"), action_error=info.get("action_error"),
                  env_ms=(time.perf_counter() - t0) * 1000, url=info.get("url"), elapsed=info.get("elapsed", 0.0))
    ctx.next_observation = Observation.from_gym(obs, info)
    return {"result": result}


def record(state: EpisodeState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    pending, result = state["pending"], state["result"]
    step = state.get("step", 0)
    screen = ctx.observation.screenshot
    ctx.writer.save_screen(state["screen"], screen)
    is_error = pending["parse_error"] is not None or result["action_error"] is not None
    errors = state.get("errors", 0) + int(is_error)

    end_reason = ""
    if result["crashed"]:
        end_reason = "crashed"
    elif result["terminated"]:
        end_reason = "task_over"
    elif errors >= ctx.error_budget:
        end_reason = "error_budget"
    elif step + 1 >= ctx.max_steps:
        end_reason = "step_limit"
    elif result["truncated"]:
        end_reason = "time_limit"
    done = bool(end_reason)
    truncated = done and end_reason != "task_over"

    stats = pending["stats"] or {}
    ctx.writer.append_step(Step(
        run_id=state["run_id"], episode_id=state["episode_id"], step=step, env_id=state["env_id"],
        seed=state.get("seed"), instruction=state["instruction"], action=pending["action"],
        action_text=pending["action_text"], raw_text=pending["raw_text"], parse_error=pending["parse_error"],
        action_error=result["action_error"], n_tokens=stats.get("n_tokens"), logprob_sum=stats.get("logprob_sum"),
        logprob_mean=stats.get("logprob_mean"), reward=result["reward"], terminated=result["terminated"],
        truncated=truncated, success=result["success"], env_ms=result["env_ms"], policy_ms=pending["policy_ms"],
        screenshot=state["screen"], width=screen.shape[1], height=screen.shape[0], url=result["url"],
        elapsed_s=result["elapsed"] or 0.0, regions=_regions_json(ctx.observation.info),
        front=ctx.observation.info.get("front"), target=ctx.observation.info.get("target"),
        on_target=ctx.observation.info.get("on_target"),
        target_box=_json_or_none(ctx.observation.info.get("target_box")),
        carrying=ctx.observation.info.get("carrying"),
        perturbed=bool(stats.get("perturbed", False)),
    ))
    if ctx.next_observation is not None:
        ctx.observation, ctx.next_observation = ctx.next_observation, None
    shown = pending["action_text"] or f"<unparsed: {pending['raw_text'][:80]}>"
    return {"step": step + 1, "history": [shown], "errors": errors,
            "reward_total": state.get("reward_total", 0.0) + result["reward"],
            "success": bool(result["success"]), "done": done, "end_reason": end_reason}


def _regions_json(info: dict) -> str | None:
    return _json_or_none(info.get("regions"))


def _json_or_none(value) -> str | None:
    return json.dumps(value) if value is not None else None


def route_after_record(state: EpisodeState) -> str:
    return END if state["done"] else "observe"


def build_agent_graph(checkpointer=None):
    """The compiled episode graph; pass a LangGraph checkpointer (e.g. SqliteSaver) to make runs resumable."""
    graph = StateGraph(EpisodeState, context_schema=AgentContext)
    graph.add_node("observe", observe)
    graph.add_node("act", act)
    graph.add_node("execute", execute)
    graph.add_node("record", record)
    graph.add_edge(START, "observe")
    graph.add_edge("observe", "act")
    graph.add_edge("act", "execute")
    graph.add_edge("execute", "record")
    graph.add_conditional_edges("record", route_after_record, ["observe", END])
    return graph.compile(checkpointer=checkpointer)


def recursion_limit(max_steps: int) -> int:
    """Four nodes a step, plus slack: LangGraph counts super-steps against this limit."""
    return 4 * max_steps + 8
