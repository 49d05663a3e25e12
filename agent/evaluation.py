"""Collection and evaluation over whole suites, with seed ranges kept apart.

Training data comes from seeds >= TRAIN_SEED_START (`collect`); evaluation uses seeds from 0 (`evaluate`), so
the two never overlap unless a user asks for it. `evaluate` writes its table as markdown and JSON.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rich.console import Console

from viragent.environments import SUITES, parse_env_id

from .datasets import served_options
from .policies import NoisyExpertPolicy, make_policy
from .runner import RunConfig, RunResult, run_episodes
from .summary import summary_table

TRAIN_SEED_START = 100_000
EVAL_SEED_START = 0
# Step limits that leave the expert room (MiniWoB's longest task takes 5 steps, BabyAI's up to ~40).
SUITE_MAX_STEPS = {"miniwob": 15, "desktop": 15, "babyai": 64}


def suite_env_ids(suite: str, tasks: list[str] | None = None) -> list[str]:
    """Every task of `suite` that has an expert (or the named ones), as env ids."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; available: {sorted(SUITES)}")
    chosen = tasks or SUITES[suite].expert_tasks()
    ids = [f"{suite}/{t}" for t in chosen]
    for env_id in ids:
        parse_env_id(env_id)
    return ids


def collect(suite: str, episodes: int, out: str | Path, seed: int = TRAIN_SEED_START, tasks: list[str] | None = None,
            max_steps: int = 30, console: Console | None = None, show_progress: bool = True,
            regions: bool = True, noise: float = 0.0, env_options: dict | None = None,
            noise_policy: str | None = None, wrong_pickups: float = 0.0) -> RunResult:
    """Expert demonstrations: `episodes` per task on seeds seed .. seed+episodes-1 (recorded in the manifest).

    regions: record the words on each browser screen with their boxes (Step.regions), so the exported samples
    carry region-token labels; on BabyAI, each object of the grid named by one word (BabyAIEnv.object_regions).
    The desktop suite has none to record.
    env_options: passed to every env (e.g. {"view": "agent"}); recorded in the manifest with the rest.
    noise: the share of steps where a random move replaces the expert's (NoisyExpertPolicy), so the data also
    shows how to recover from a mistake; those steps are logged as perturbed and never exported as answers.
    noise_policy: a policy spec (e.g. "internvl:viragent-tiny") that makes those steps instead of random moves:
    the expert then labels the states that policy's own mistakes lead to (DAgger). Its env options must be
    the ones given, so that it sees what it was trained on.
    wrong_pickups: in BabyAI, the share of the steps facing an object the mission does not want now where the
    collector picks it up (a perturbed step), so the data shows the expert putting it down again."""
    env_kwargs = {"text_regions": True} if regions and suite in ("miniwob", "babyai") else {}
    env_kwargs.update(env_options or {})
    learner = None
    if noise_policy:
        if noise <= 0:
            raise ValueError(f"--noise-policy {noise_policy} acts on the --noise share of steps, which is 0; "
                             "give --noise (e.g. 0.5)")
        learner = make_policy(noise_policy, seed=seed)
        trained = getattr(learner, "env_options", {}).get(suite, {})
        if trained != served_options(env_options or {}):
            shown = " ".join(f"--env-option {k}={v}" for k, v in trained.items()) or "no --env-option"
            raise ValueError(f"{noise_policy} was trained on {suite} envs built with {trained}, but this collection "
                             f"builds them with {env_options or {}}; give {shown}")
    perturbed = noise > 0 or wrong_pickups > 0
    policy = NoisyExpertPolicy(noise, seed=seed, learner=learner, wrong_pickups=wrong_pickups) if perturbed else None
    label = ("expert" + (f"+noise{noise:g}" if noise > 0 else "") + (f"+{noise_policy}" if noise_policy else "")
             + (f"+wrong-pickups{wrong_pickups:g}" if wrong_pickups else ""))
    config = RunConfig(env_ids=suite_env_ids(suite, tasks), policy=label if policy else "expert",
                       episodes=episodes, seed=seed, out=Path(out), max_steps=max_steps, env_kwargs=env_kwargs)
    return run_episodes(config, console=console, show_progress=show_progress, policy=policy)


def evaluate(policy_spec: str, env_ids: list[str], episodes: int, out: str | Path, seed: int = EVAL_SEED_START,
             max_steps: int = 30, policy=None, console: Console | None = None, show_progress: bool = True,
             resume: bool = False, env_options: dict | None = None, temperature: float | None = None) -> dict:
    """Success per env on held-out seeds; writes OUT/eval.md and OUT/eval.json.

    resume: an interrupted evaluation in OUT keeps its finished episodes and runs only the rest.
    env_options: passed to every env (e.g. {"view": "agent"}), and recorded in the table.
    temperature: sample at it in every suite instead of the checkpoint's own decoding; the decoding used per
    suite is recorded in the table either way."""
    console = console or Console()
    out = Path(out)
    config = RunConfig(env_ids=env_ids, policy=policy_spec, episodes=episodes, seed=seed, out=out / "run",
                       max_steps=max_steps, resume=resume, env_kwargs=dict(env_options or {}), temperature=temperature)
    result = run_episodes(config, console=console, show_progress=show_progress, policy=policy)
    decoding = json.loads((out / "run" / "manifest.json").read_text()).get("policy_decoding", {})
    table = {"policy": policy_spec, "seeds": [seed, seed + episodes - 1], "episodes_per_env": episodes,
             "env_options": dict(env_options or {}), "temperature": temperature, "decoding": decoding,
             "rows": result.rows}
    lines = ["| env | success | episodes | mean steps |", "|---|---:|---:|---:|"]
    lines += [f"| {r['env']} | {100 * r['success']:.1f} % | {r['episodes']} | {r['mean_steps']:.2f} |" for r in result.rows]
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.md").write_text(f"Policy `{policy_spec}`, seeds {seed}..{seed + episodes - 1}, "
                                 f"{describe_decoding(decoding)}\n\n" + "\n".join(lines) + "\n")
    (out / "eval.json").write_text(json.dumps(table, indent=2))
    console.print(summary_table(result.rows, title=f"eval {policy_spec}"))
    return table


def describe_decoding(decoding: dict) -> str:
    """{"babyai": {"temperature": 1.0}} -> "sampled at temperature 1.0 in babyai, greedy elsewhere"."""
    sampled = {suite: d["temperature"] for suite, d in decoding.items() if d.get("temperature", 0) > 0}
    if not sampled:
        return "greedy decoding"
    if "*" in sampled:
        return f"sampled at temperature {sampled['*']} in every suite"
    return ", ".join(f"sampled at temperature {t} in {suite}" for suite, t in sampled.items()) + ", greedy elsewhere"


def _slug(policy_spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in policy_spec.replace("internvl:", ""))[-60:]


def _fingerprint(spec: str) -> str:
    """What a policy spec stands for right now: a checkpoint's weights change under the same name."""
    if not spec.startswith("internvl:"):
        return spec
    from viragent.model.loading import CheckpointNotFound, resolve_checkpoint

    try:
        directory = resolve_checkpoint(spec.split(":", 1)[1])
    except CheckpointNotFound:
        return spec  # a preset: random weights, fixed by the seed
    digest = hashlib.sha1()
    for f in sorted(directory.glob("*.safetensors")):
        digest.update(f.read_bytes())
    meta = directory / "viragent.json"
    decoding = json.loads(meta.read_text()).get("decoding") if meta.exists() else None
    if decoding:  # the same weights decoded another way are another policy
        digest.update(json.dumps(decoding, sort_keys=True).encode())
    return f"{spec}@{digest.hexdigest()[:16]}"


def _finished(where: Path, spec: str, fingerprint: str, env_ids: list[str], seed: int,
              episodes: int, env_options: dict, temperature: float | None) -> dict | None:
    """The table of an earlier identical evaluation in `where` (same policy weights and decoding, seeds, envs
    and env options), or None."""
    try:
        table = json.loads((where / "eval.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    same = (table.get("policy") == spec and table.get("seeds") == [seed, seed + episodes - 1]
            and table.get("fingerprint") == fingerprint
            and table.get("env_options", {}) == env_options
            and table.get("temperature") == temperature
            and [r["env"] for r in table.get("rows", [])] == env_ids)
    return table if same else None


def compare(policy_specs: list[str], env_ids: list[str], episodes: int, out: str | Path,
            seed: int = EVAL_SEED_START, max_steps: int | None = None, console: Console | None = None,
            resume: bool = False, env_options: dict | None = None, temperature: float | None = None) -> dict:
    """Several policies on the same held-out seeds: one column each, plus each suite's mean.

    Each policy's own run and table go to OUT/<policy>/; the comparison to OUT/eval.md and OUT/eval.json.
    `max_steps` None: each suite's SUITE_MAX_STEPS. `env_options` go to every env (e.g. {"view": "agent"}).
    `temperature` (InternVL policies) overrides each checkpoint's own decoding in every suite.
    """
    console = console or Console()
    out = Path(out)
    env_options = dict(env_options or {})
    columns, decodings = {}, {}
    for spec in policy_specs:
        rows, fingerprint = [], _fingerprint(spec)  # hashes the weights once per policy
        spec_temperature = temperature if spec.startswith("internvl:") else None
        for suite in dict.fromkeys(parse_env_id(e)[0].name for e in env_ids):
            ids = [e for e in env_ids if parse_env_id(e)[0].name == suite]
            limit = max_steps or SUITE_MAX_STEPS.get(suite, 30)
            # a --temperature run gets a folder of its own: the checkpoint's own decoding may be evaluated beside it
            where = out / (_slug(spec) + ("" if spec_temperature is None else f"-t{spec_temperature:g}")) / suite
            table = _finished(where, spec, fingerprint, ids, seed, episodes, env_options, spec_temperature)
            if table is None:
                table = evaluate(spec, ids, episodes, where, seed=seed, max_steps=limit, console=console,
                                 resume=resume, env_options=env_options, temperature=spec_temperature)
                table["fingerprint"] = fingerprint
                (where / "eval.json").write_text(json.dumps(table, indent=2))
            else:  # the same policy on the same seeds already ran into this folder: reuse, don't re-run
                console.print(f"reusing {where / 'eval.json'}")
            rows += table["rows"]
            decodings.setdefault(spec, {}).update(table.get("decoding", {}))
        columns[spec] = {r["env"]: r["success"] for r in rows if r["env"] in env_ids}  # not the "all" rows
    suites = list(dict.fromkeys(parse_env_id(e)[0].name for e in env_ids))
    means = {spec: {s: sum(v for e, v in col.items() if e.startswith(s + "/")) /
                    max(1, sum(e.startswith(s + "/") for e in col)) for s in suites} for spec, col in columns.items()}
    header = "| env | " + " | ".join(f"`{p}`" for p in policy_specs) + " |"
    lines = [header, "|---|" + "---:|" * len(policy_specs)]
    lines += [f"| {e} | " + " | ".join(f"{100 * columns[p][e]:.0f} %" for p in policy_specs) + " |" for e in env_ids]
    lines += [f"| **{s} mean** | " + " | ".join(f"**{100 * means[p][s]:.1f} %**" for p in policy_specs) + " |"
              for s in suites]
    lines += ["", *[f"`{p}`: {describe_decoding(decodings.get(p, {}))}." for p in policy_specs]]
    result = {"policies": policy_specs, "seeds": [seed, seed + episodes - 1], "episodes_per_env": episodes,
              "env_options": env_options, "temperature": temperature, "decoding": decodings, "success": columns,
              "suite_means": means}
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.md").write_text(f"Success on held-out seeds {seed}..{seed + episodes - 1} ({episodes} episodes "
                                 f"per task)\n\n" + "\n".join(lines) + "\n")
    (out / "eval.json").write_text(json.dumps(result, indent=2))
    return result
