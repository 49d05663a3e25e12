"""Vectorised rollouts through `gymnasium.vector.SyncVectorEnv`, logged to the same run directory format.

The autoreset mode is set explicitly to DISABLED: each finished sub-env is reset by us with the next seed
(`reset_mask`), so no step of an automatic reset is ever logged as an agent step, and episode i still uses
seed S+i. Once the seeds run out, a finished slot keeps being reset with throwaway seeds and its steps are
not logged (SyncVectorEnv steps every sub-env).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from rich.console import Console

from viragent.environments import Observation, make_env
from viragent.tools import Wait, get_codec

from .policies import make_policy
from .runner import RunConfig, RunResult, _manifest, env_options
from .report import write_report
from .summary import summarize, summary_table
from .trajectory import Episode, RunWriter, Step

_CODEC = get_codec("internvl")
_IDLE = -1


def _at(infos: dict, key: str, i: int, default=None):
    mask = infos.get(f"_{key}")
    return infos[key][i] if key in infos and (mask is None or mask[i]) else default


def vector_rollouts(config: RunConfig, num_envs: int, console: Console | None = None) -> RunResult:
    """Run `config.episodes` episodes of one env id over `num_envs` sub-envs."""
    console = console or Console()
    if len(config.env_ids) != 1:
        raise ValueError("vector rollouts take one env id; run each env id separately")
    env_id = config.env_ids[0]
    out = Path(config.out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} already holds a run; choose another --out")
    policies = [make_policy(config.policy, seed=config.seed + i, temperature=config.temperature)
                for i in range(num_envs)]
    options = env_options(env_id, config, policies[0])
    writer = RunWriter(out, {**_manifest(config, out.name), "num_envs": num_envs,
                             "policy_env_options": getattr(policies[0], "env_options", {}),
                             "policy_decoding": getattr(policies[0], "decoding_in_use", {})})
    build = lambda: make_env(env_id, max_steps=config.max_steps, **options)  # noqa: E731
    vec = gym.vector.SyncVectorEnv([build] * num_envs, autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    seeds = [config.seed + i for i in range(config.episodes)]
    next_index = 0
    slot_episode = [_IDLE] * num_envs
    state = [dict() for _ in range(num_envs)]
    episodes: list[Episode] = []

    def assign(i: int) -> int:
        nonlocal next_index
        if next_index < len(seeds):
            slot_episode[i] = next_index + 1
            state[i] = {"seed": seeds[next_index], "history": [], "errors": 0, "reward": 0.0, "t0": time.perf_counter()}
            next_index += 1
            return state[i]["seed"]
        slot_episode[i] = _IDLE
        return 10**9 + i  # throwaway seed for an idle slot

    obs, infos = vec.reset(seed=[assign(i) for i in range(num_envs)])
    for i, policy in enumerate(policies):
        policy.reset(vec.envs[i])
    while any(e != _IDLE for e in slot_episode):
        outputs, actions, policy_ms = [], [], []
        for i in range(num_envs):
            observation = Observation(obs["screenshot"][i], str(obs["instruction"][i]))
            t0 = time.perf_counter()
            out_i = policies[i].act(observation, state[i].get("history", [])[-config.history_window:])
            policy_ms.append((time.perf_counter() - t0) * 1000)
            outputs.append(out_i)
            actions.append(out_i.action if out_i.action is not None else Wait(seconds=0))
        t0 = time.perf_counter()
        next_obs, rewards, terminated, truncated, infos = vec.step(tuple(actions))
        env_ms = (time.perf_counter() - t0) * 1000 / num_envs
        done_mask = np.zeros(num_envs, dtype=np.bool_)
        for i in range(num_envs):
            episode_id = slot_episode[i]
            if episode_id == _IDLE:
                done_mask[i] = bool(terminated[i] or truncated[i])
                continue
            s, o = state[i], outputs[i]
            step = len(s["history"])
            action_error = _at(infos, "action_error", i) if o.action is not None else None
            s["errors"] += int(o.error is not None or action_error is not None)
            s["reward"] += float(rewards[i])
            end = bool(terminated[i] or truncated[i]) or s["errors"] >= config.error_budget
            screen = f"{episode_id:06d}-{step:03d}.png"
            writer.save_screen(screen, obs["screenshot"][i])
            writer.append_step(Step(
                run_id=out.name, episode_id=episode_id, step=step, env_id=env_id, seed=s["seed"],
                instruction=str(obs["instruction"][i]),
                action=json.dumps(o.action.model_dump(mode="json")) if o.action is not None else None,
                action_text=_CODEC.encode(o.action) if o.action is not None else None, raw_text=o.raw_text,
                parse_error=o.error, action_error=action_error, reward=float(rewards[i]),
                terminated=bool(terminated[i]), truncated=end and not bool(terminated[i]),
                success=bool(_at(infos, "success", i, False)), env_ms=env_ms, policy_ms=policy_ms[i],
                screenshot=screen, width=obs["screenshot"][i].shape[1], height=obs["screenshot"][i].shape[0]))
            s["history"].append(o.raw_text if o.action is None else _CODEC.encode(o.action))
            if end:
                rows = writer.episode_rows(episode_id)
                reason = "task_over" if terminated[i] else ("error_budget" if s["errors"] >= config.error_budget
                                                            else "step_limit")
                episodes.append(Episode(
                    run_id=out.name, episode_id=episode_id, env_id=env_id, seed=s["seed"],
                    instruction=rows[0]["instruction"], steps=len(rows),
                    success=bool(_at(infos, "success", i, False)), reward=s["reward"],
                    terminated=bool(terminated[i]), truncated=not bool(terminated[i]), errors=s["errors"],
                    end_reason=reason, env_ms_mean=env_ms, policy_ms_mean=sum(r["policy_ms"] for r in rows) / len(rows),
                    wall_s=time.perf_counter() - s["t0"]))
                writer.end_episode(episodes[-1])
                done_mask[i] = True
        obs = next_obs
        if done_mask.any():
            new_seeds = [assign(i) if done_mask[i] else None for i in range(num_envs)]
            reset_obs, _ = vec.reset(seed=new_seeds, options={"reset_mask": done_mask})
            for key in obs:
                if isinstance(obs[key], np.ndarray):
                    obs[key][done_mask] = reset_obs[key][done_mask]
                else:
                    obs[key] = tuple(r if m else o for o, r, m in zip(obs[key], reset_obs[key], done_mask))
            for i in np.flatnonzero(done_mask):
                policies[i].reset(vec.envs[i])
    vec.close()
    writer.close()
    episodes.sort(key=lambda e: e.episode_id)
    rows = summarize(episodes)
    console.print(summary_table(rows, title=f"{config.policy} on {env_id} x{num_envs} (vector): {out}"))
    return RunResult(out, episodes, rows, write_report(out))
