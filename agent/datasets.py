"""Runs -> training data in InternVL's own SFT format (so the official InternVL scripts can read it too).

One jsonl line per step: {"id", "image", "conversations": [{"from": "human", "value": "<image>\\n…"},
{"from": "gpt", "value": "click(x=…, y=…)"}]} plus a meta json naming the file, its image root and length.
The human turn is exactly the prompt InternVLPolicy shows the model, so training and acting agree.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from viragent.environments.embodied.babyai import colour_first
from viragent.tools import InternVLCodec, Type, action_from_dict

from .look_first import look_sample, other_fronts, other_missions
from .prompts import user_prompt
from .trajectory import load_run


@dataclass
class ExportFilter:
    successful_only: bool = True  # keep steps of successful episodes only
    dedupe: bool = True  # drop repeated (screen, prompt, answer) triples
    max_per_task: int | None = None  # cap on samples per env id
    history_window: int = 8  # previous actions shown in the prompt, as InternVLPolicy shows them
    image: str = "first"  # where the screenshot sits in the prompt (prompts.IMAGE_POSITIONS)
    bins: int | None = None  # snap coordinates to this many cells per axis (InternVLCodec(bins)); None: as logged
    retype: int = 0  # extra copies of each typing step whose string the instruction quotes, fresh strings (below)
    retype_all_steps: bool = False  # a retyped copy keeps its click steps too, not only its typing steps
    seed: int = 0  # for `retype`'s strings
    think_front: bool = False  # answer "In front: red ball. pickup()" where the step recorded what the agent faces
    # answer "In front: red box. Target: red ball, match: no. turn_left()": what the agent faces, what the mission
    # asks for now and whether they are the same object, where the step recorded them (implies think_front)
    think_target: bool = False
    # "look first": where the step recorded what the agent faces, the prompt says it as text ("In front of you: red
    # box.") and the answer is "Target: red ball, match: no. turn_left()"; each such screen also gets the question
    # the policy asks itself first (prompts.LOOK_QUESTION -> done(answer="red box")). See InternVLPolicy.act.
    look_first: bool = False
    # with look_first: this many text-only copies of each step facing an object, another object in front
    # (agent/look_first.other_fronts), so the match word is learned from the mission's target, not from the view
    look_texts: int = 0
    # with look_first: this many copies of each step facing an object with its screen and the mission's target
    # changed (agent/look_first.other_missions), so the same picture gets both match words
    look_missions: int = 0
    # where the step recorded where the mission's object is (BabyAI's target_box), make its centre the sample's
    # `point`: the pointer-token loss then asks, at every step, which visual token shows the object the mission names
    point_targets: bool = False
    # where the step recorded what the agent holds (BabyAI's `carrying`), the prompt says it ("You are carrying: red
    # ball."): the egocentric frame hides it under the agent (prompts.CARRYING_LINE)
    carrying: bool = False


def thought_answer(step: dict, answer: str, with_target: bool, with_front: bool = True) -> str:
    """The expert's action after the words a policy should think first. With the target, the comparison is a word
    of its own ("match: no"): in the front-only answers the tiny policy named the object right and picked up the
    wrong one anyway (examples/EXPERIMENTS.md "Say what is in front"), so the pickup decision gets a token that says it.
    What is in front comes first, where a target written just before it cannot be copied into it; the tiny policy named
    the target there anyway, in either order (examples/EXPERIMENTS.md "Name the target", "What is in front first")."""
    front = f"In front: {step['front']}. " if with_front else ""
    if not with_target or not step.get("target"):
        return f"{front}{answer}"
    match = "" if step.get("on_target") is None else f", match: {'yes' if step['on_target'] else 'no'}"
    return f"{front}Target: {step['target']}{match}. {answer}"


def _screen_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def fresh_string_like(text: str, rng: random.Random) -> str:
    """A random string of the same shape: each letter or digit replaced by a random one of its class."""
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(rng.choice(string.digits))
        elif ch.isupper():
            out.append(rng.choice(string.ascii_uppercase))
        elif ch.islower():
            out.append(rng.choice(string.ascii_lowercase))
        else:
            out.append(ch)
    return "".join(out)


def retyped_episode(instruction: str, actions: list, rng: random.Random) -> tuple[str, list] | None:
    """The episode with every typed string that the instruction quotes replaced by a fresh one, or None.

    Why: a policy must copy what the task asks it to type from the instruction, and an episode teaches that
    once; the same episode with new strings teaches it again at no collection cost. The screenshots still show
    the old strings, so the model learns to copy from the prompt's text, which is where acting reads it too.
    """
    # In order of first use, not a set: a set of str iterates in an order that changes with PYTHONHASHSEED, so
    # two exports of one run drew login-user's two fresh strings in different orders (measured: 1,070 samples).
    quoted = list(dict.fromkeys(a.text for a in actions
                                if isinstance(a, Type) and f'"{a.text}"' in instruction and a.text))
    if not quoted:
        return None
    mapping = {t: fresh_string_like(t, rng) for t in quoted}
    for old, new in mapping.items():
        instruction = instruction.replace(f'"{old}"', f'"{new}"')
    actions = [a.model_copy(update={"text": mapping[a.text]}) if isinstance(a, Type) and a.text in mapping else a
               for a in actions]
    return instruction, actions


def run_to_samples(run_dir: str | Path, filters: ExportFilter) -> list[dict]:
    run = load_run(run_dir)
    ok = {e["episode_id"]: e["success"] for e in run.episodes.to_pylist()}
    episodes: dict = {}
    for step in sorted(run.steps.to_pylist(), key=lambda s: (s["episode_id"], s["step"])):
        if step.get("front"):  # a run logged before doors were named colour first trains today's words
            step["front"] = colour_first(step["front"])
        episodes.setdefault(step["episode_id"], []).append(step)
    samples, seen = [], set()
    per_task: Counter = Counter()
    codec, rng = InternVLCodec(filters.bins), random.Random(filters.seed)
    for flag, column, what in (("think_front", "front", "what the agent faces"),
                               ("think_target", "target", "what the mission asks for now"),
                               ("point_targets", "target_box", "where the mission's object is"),
                               ("look_first", "front", "what the agent faces"),
                               ("carrying", "carrying", "what the agent holds")):
        recorded = column in run.steps.column_names and run.steps.column(column).null_count < run.steps.num_rows
        if getattr(filters, flag) and not recorded:
            raise ValueError(f"{run_dir} records nothing about {what}, so --{flag.replace('_', '-')} has nothing to "
                             f"write; collect it again with this version of `viragent collect` (BabyAI reports it)")
    for episode_id, steps in episodes.items():
        if filters.successful_only and not ok.get(episode_id, False):
            continue
        # None: a step whose raw text did not parse (shown in the history, never a training answer).
        actions = [action_from_dict(json.loads(s["action"])) if s["action_text"] else None for s in steps]
        variants = [(steps[0]["instruction"], actions, "")]
        for k in range(filters.retype):
            retyped = retyped_episode(steps[0]["instruction"], actions, rng)
            if retyped is None:
                break
            variants.append((*retyped, f"/retype{k + 1}"))
        for instruction, variant_actions, suffix in variants:
            history: list[str] = []
            for step, action in zip(steps, variant_actions):
                shown = history[-filters.history_window:]
                # Re-encoded from the Action, so `bins` applies to the answer and the history alike.
                answer = codec.encode(action) if action is not None else None
                history.append(answer or f"<unparsed: {step['raw_text'][:80]}>")
                if answer is None or step.get("perturbed"):  # a collector's random move is not an answer
                    continue
                # By default a retyped copy keeps only its typing steps: its other steps repeat the original's
                # answers on the same screens. Measured (examples/EXPERIMENTS.md): with typing steps alone the policy
                # typed on click tasks that quote a label (100 of 370 click-link steps); with the click steps kept as
                # well (retype_all_steps) it did not (0 of 381), but that run also copied far less (its schedule was
                # shorter and had other changes, so the two effects are not separated).
                if suffix and not filters.retype_all_steps and not isinstance(action, Type):
                    continue
                if filters.max_per_task is not None and per_task[step["env_id"]] >= filters.max_per_task:
                    continue
                image = run.screen_path(step["screenshot"])
                looked = step.get("front") if filters.look_first else None
                held = step.get("carrying") if filters.carrying else None
                prompt = user_prompt(instruction if suffix else step["instruction"], shown, image=filters.image,
                                     seen=looked, carrying=held)
                # Read once per step: the screen's bytes key both the dedupe and the look question.
                digest = _screen_digest(image) if filters.dedupe or looked else None
                if filters.dedupe:
                    key = (digest, prompt, answer)
                    if key in seen:
                        continue
                    seen.add(key)
                per_task[step["env_id"]] += 1
                if looked:
                    answer = thought_answer(step, answer, with_target=True, with_front=False)
                    if ("look", digest) not in seen:  # one question per distinct screen
                        seen.add(("look", digest))
                        samples.append(look_sample(run.manifest["run_id"], step, image, filters.image))
                    asked = {"instruction": instruction if suffix else step["instruction"], "history": shown,
                             "image": filters.image, "carrying": held}
                    samples.extend(other_fronts(run.manifest["run_id"], step, asked, filters.look_texts, rng))
                    samples.extend(other_missions(run.manifest["run_id"], step, asked, image, filters.look_missions,
                                                  rng))
                elif (filters.think_front or filters.think_target) and step.get("front"):
                    # The policy names what it faces, then acts: the action's tokens can then match the mission's
                    # words against that text instead of against the picture (examples/EXPERIMENTS.md "Say what is in
                    # front"). The history keeps the bare actions, as the agent loop shows them.
                    answer = thought_answer(step, answer, filters.think_target)
                sample = {
                    "id": f"{run.manifest['run_id']}/{episode_id}/{step['step']}{suffix}",
                    "image": str(image.resolve()),
                    "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}],
                    "env_id": step["env_id"],
                }
                if step.get("regions"):  # the screen's words (recorded by `collect`): region-token labels
                    sample["regions"] = json.loads(step["regions"])
                if filters.point_targets and step.get("target_box"):
                    x0, y0, x1, y1 = json.loads(step["target_box"])
                    sample["point"] = [(x0 + x1) // 2, (y0 + y1) // 2]
                samples.append(sample)
    return samples


def export_sft(run_dirs: list[str | Path], out: str | Path, name: str = "viragent_sft",
               filters: ExportFilter | None = None) -> dict:
    """Write OUT/NAME.jsonl and OUT/NAME_meta.json; returns the meta entry (with per-task counts)."""
    filters = filters or ExportFilter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env_options = runs_env_options(run_dirs)  # before any work: runs that disagree cannot train one policy
    samples: list[dict] = []
    for run_dir in run_dirs:
        samples.extend(run_to_samples(run_dir, filters))
    # Text-only copies (--look-texts) go to a dataset of their own, NAME_texts, so a mixture can weight them.
    texts = [s for s in samples if "image" not in s]
    samples = [s for s in samples if "image" in s]
    meta = _write_dataset(out, name, samples, env_options)
    if texts:
        _write_dataset(out, f"{name}_texts", texts, {})
    counts = Counter(s["env_id"] for s in samples + texts)
    return {**meta, "per_task": dict(sorted(counts.items()))}


def _write_dataset(out: Path, name: str, samples: list[dict], env_options: dict) -> dict:
    """OUT/NAME.jsonl and OUT/NAME_meta.json; returns the meta entry."""
    jsonl = out / f"{name}.jsonl"
    with jsonl.open("w", encoding="utf-8") as f:
        for sample in samples:
            f.write(json.dumps(sample, ensure_ascii=False) + "\n")
    # InternVL's meta format: dataset name -> {root, annotation, data_augment, repeat_time, length}; its
    # readers ignore the extra key, ours serve the trained checkpoint with the same env options.
    meta = {name: {"root": "/", "annotation": str(jsonl.resolve()), "data_augment": False, "repeat_time": 1,
                   "length": len(samples), "env_options": env_options}}
    (out / f"{name}_meta.json").write_text(json.dumps(meta, indent=2))
    return meta[name]


# Env options for collecting only, which change nothing about how the trained policy is served: `text_regions`
# adds to the log (the words and boxes under each screen), BabyAI's `start` moves where demonstrations begin.
_COLLECTING_ONLY = {"text_regions", "start"}


def served_options(options: dict) -> dict:
    """The env options a policy trained on data collected with `options` is served with."""
    return {k: v for k, v in options.items() if k not in _COLLECTING_ONLY}


def _merge_env_options(found: dict[str, dict], suite: str, options: dict, source: str) -> None:
    if suite in found and found[suite] != options:
        raise ValueError(f"{source} has {suite} envs built with {options}, other data with {found[suite]}: a "
                         f"policy trained on both could not be served one way; collect them with the same "
                         f"--env-option")
    found[suite] = options


def runs_env_options(run_dirs: list[str | Path]) -> dict[str, dict]:
    """Suite -> the options its envs were built with in these runs (e.g. {"babyai": {"view": "agent"}})."""
    found: dict[str, dict] = {}
    for run_dir in run_dirs:
        config = json.loads((Path(run_dir) / "manifest.json").read_text())["config"]
        options = served_options(config.get("env_kwargs", {}))
        for suite in sorted({env_id.split("/")[0] for env_id in config["env_ids"]}):
            _merge_env_options(found, suite, options, str(run_dir))
    return found


def mixture_env_options(specs: list[str]) -> dict[str, dict]:
    """The env options of every dataset in a mixture (the CLI's --data), refused where two disagree."""
    found: dict[str, dict] = {}
    for spec in specs:
        path = _split_spec(str(spec))[0]
        for entry in json.loads(Path(path).read_text()).values():
            for suite, options in entry.get("env_options", {}).items():
                _merge_env_options(found, suite, options, path)
    return found


def load_sft(meta_path: str | Path, repeat_time: float | None = None, seed: int = 0) -> list[dict]:
    """Read back every dataset a meta json names (InternVL's format), images resolved against `root`.

    repeat_time as InternVL reads it: an integer part repeats the data, a fraction below 1 keeps that share
    of it (a seeded sample); `repeat_time` here overrides the meta's.
    """
    meta = json.loads(Path(meta_path).read_text())
    samples = []
    for entry in meta.values():
        root = Path(entry.get("root", "/"))
        rows = []
        with open(entry["annotation"], encoding="utf-8") as f:
            for line in f:
                sample = json.loads(line)
                if "image" in sample:  # without one the sample is pure text (InternVL's SFT data allows it)
                    images = sample["image"] if isinstance(sample["image"], list) else [sample["image"]]
                    sample["image"] = [str(root / p) for p in images]
                rows.append(sample)
        repeat = float(entry.get("repeat_time", 1) if repeat_time is None else repeat_time)
        samples.extend(rows * int(repeat))
        share = repeat - int(repeat)
        if share > 0:
            samples.extend(random.Random(seed).sample(rows, round(len(rows) * share)))
    return samples


def load_mixture(specs: list[str], seed: int = 0) -> list[dict]:
    """`META` or `META:REPEAT` for each dataset (the CLI's --data), concatenated."""
    samples = []
    for spec in specs:
        path, repeat = _split_spec(str(spec))
        if not Path(path).is_file():
            raise FileNotFoundError(f"no dataset meta at {path}; write one with `viragent export` or `viragent screens`")
        samples.extend(load_sft(path, repeat, seed=seed))
    return samples


def _split_spec(spec: str) -> tuple[str, float | None]:
    """'META:0.25' -> ('META', 0.25); 'META' (or a path with a non-numeric ':') -> ('META', None)."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail.replace(".", "", 1).isdigit():
        return head, float(tail)
    return spec, None
