"""Running a policy over many episodes: progress bar, trajectory logs, summary table, HTML report.

`run_episodes` is what `viragent run` calls; tests call it directly.
"""

from __future__ import annotations

import json
import platform
import sqlite3
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from viragent.environments import make_env, parse_env_id

from .graph import AgentContext, build_agent_graph, recursion_limit
from .policies import Policy, make_policy
from .report import write_report
from .summary import summarize, summary_table
from .trajectory import Episode, RunWriter, load_run

_VERSIONED = ("viragent", "torch", "transformers", "playwright", "gymnasium", "langgraph", "pyarrow", "miniwob")


@dataclass
class RunConfig:
    env_ids: list[str]
    policy: str = "expert"
    episodes: int = 10  # per env id
    seed: int = 0  # episode i of each env uses seed + i
    out: Path = Path("runs/latest")
    max_steps: int = 10
    error_budget: int = 3
    history_window: int = 8
    resume: bool = False
    checkpoint: bool = False  # keep LangGraph state in out/checkpoints.sqlite
    env_kwargs: dict = field(default_factory=dict)
    temperature: float | None = None  # InternVL: sample at it in every suite (None: the checkpoint's own decoding)


@dataclass
class RunResult:
    out: Path
    episodes: list[Episode]
    rows: list[dict]  # the summary table, one row per env id plus "all"
    report: Path | None = None


def _git_sha() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str | None]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _config_dict(config: RunConfig) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}


def _manifest(config: RunConfig, run_id: str) -> dict:
    return {"run_id": run_id, "created": datetime.now(timezone.utc).isoformat(), "config": _config_dict(config),
            "seed_range": [config.seed, config.seed + config.episodes - 1],
            "versions": _versions(), "git_sha": _git_sha(), "python": platform.python_version(),
            "platform": platform.platform()}


# What makes two runs' episodes different: resuming a run under other values would mix two experiments.
_RESUME_KEYS = ("policy", "seed", "max_steps", "env_kwargs", "temperature")


def env_options(env_id: str, config: RunConfig, policy) -> dict:
    """The options the policy was trained with for this suite (InternVLPolicy.env_options, e.g. BabyAI's
    egocentric view), with the run's own (--env-option) over them."""
    suite = parse_env_id(env_id)[0].name
    return {**getattr(policy, "env_options", {}).get(suite, {}), **config.env_kwargs}


def _check_same_settings(out: Path, config: RunConfig) -> None:
    if not (out / "manifest.json").exists():
        return
    before = json.loads((out / "manifest.json").read_text())["config"]
    now = _config_dict(config)
    changed = [f"{k}: {before.get(k)!r} -> {now[k]!r}" for k in _RESUME_KEYS if before.get(k, now[k]) != now[k]]
    if changed:
        raise ValueError(f"{out} holds a run with other settings ({'; '.join(changed)}); resuming it would mix the "
                         f"two: choose another --out, or resume with the run's own settings")


def _finished_episodes(out: Path) -> dict[int, Episode]:
    if not (out / "manifest.json").exists():
        return {}
    run = load_run(out)
    return {row["episode_id"]: Episode(**row) for row in run.episodes.to_pylist()}


def run_episodes(config: RunConfig, console: Console | None = None, show_progress: bool = True,
                 policy: Policy | None = None) -> RunResult:
    """Run `config`; `policy` overrides `config.policy` with an object of your own (any `Policy`)."""
    console = console or Console()
    for env_id in config.env_ids:
        parse_env_id(env_id)  # fail before anything starts, with the list of tasks
    policy = policy or make_policy(config.policy, seed=config.seed, temperature=config.temperature)
    out = Path(config.out)
    if out.exists() and any(out.iterdir()) and not config.resume:
        raise FileExistsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    done_before = _finished_episodes(out) if config.resume else {}
    if done_before:
        _check_same_settings(out, config)
    run_id = json.loads((out / "manifest.json").read_text())["run_id"] if done_before else out.name
    writer = RunWriter(out, {**_manifest(config, run_id), "policy_env_options": getattr(policy, "env_options", {}),
                             "policy_decoding": getattr(policy, "decoding_in_use", {})})
    checkpointer = None
    if config.checkpoint:
        from langgraph.checkpoint.sqlite import SqliteSaver

        checkpointer = SqliteSaver(sqlite3.connect(out / "checkpoints.sqlite", check_same_thread=False))
    graph = build_agent_graph(checkpointer)
    episodes: list[Episode] = list(done_before.values())
    total = len(config.env_ids) * config.episodes

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("success {task.fields[rate]}"), TimeElapsedColumn(),
                        console=console, disable=not show_progress)
    with progress:
        bar = progress.add_task("episodes", total=total, rate="-", completed=len(done_before))
        episode_id = 0
        for env_id in config.env_ids:
            env = None
            try:
                for i in range(config.episodes):
                    episode_id += 1
                    if episode_id in done_before:
                        continue
                    env = env or make_env(env_id, max_steps=config.max_steps, **env_options(env_id, config, policy))
                    progress.update(bar, description=env_id)
                    episodes.append(_run_one(graph, env, policy, writer, config, run_id, env_id, episode_id,
                                             config.seed + i))
                    wins = sum(e.success for e in episodes)
                    progress.update(bar, advance=1, rate=f"{wins}/{len(episodes)}")
            finally:
                if env is not None:
                    env.close()
    writer.close()
    episodes.sort(key=lambda e: e.episode_id)
    rows = summarize(episodes)
    console.print(summary_table(rows, title=f"{policy.name} on {len(config.env_ids)} env(s): {out}"))
    report = write_report(out)
    console.print(f"report: {report}")
    return RunResult(out, episodes, rows, report)


def _run_one(graph, env, policy, writer: RunWriter, config: RunConfig, run_id: str, env_id: str,
             episode_id: int, seed: int) -> Episode:
    context = AgentContext(env=env, policy=policy, writer=writer, max_steps=config.max_steps,
                           error_budget=config.error_budget, history_window=config.history_window)
    state = {"run_id": run_id, "env_id": env_id, "episode_id": episode_id, "seed": seed, "step": 0,
             "history": [], "errors": 0, "reward_total": 0.0, "success": False, "done": False, "end_reason": ""}
    t0 = time.perf_counter()
    run_config = {"recursion_limit": recursion_limit(config.max_steps),
                  "configurable": {"thread_id": f"{run_id}/episode-{episode_id}"}}
    final = graph.invoke(state, config=run_config, context=context)
    steps = writer.episode_rows(episode_id)
    n = max(len(steps), 1)
    episode = Episode(
        run_id=run_id, episode_id=episode_id, env_id=env_id, seed=seed, instruction=final.get("instruction", ""),
        steps=final["step"], success=bool(final["success"]), reward=final["reward_total"],
        terminated=final["end_reason"] == "task_over", truncated=final["end_reason"] != "task_over",
        errors=final["errors"], end_reason=final["end_reason"],
        env_ms_mean=sum(s["env_ms"] for s in steps) / n, policy_ms_mean=sum(s["policy_ms"] for s in steps) / n,
        wall_s=time.perf_counter() - t0,
    )
    writer.end_episode(episode)
    return episode
