"""Runs -> training data in InternVL's own SFT format (so the official InternVL scripts can read it too).

One jsonl line per step: {"id", "image", "conversations": [{"from": "human", "value": "<image>\\n…"},
{"from": "gpt", "value": "click(x=…, y=…)"}]} plus a meta json naming the file, its image root and length.
The human turn is exactly the prompt InternVLPolicy shows the model, so training and acting agree.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from viragent.tools import InternVLCodec, action_from_dict

from .prompts import user_prompt
from .trajectory import load_run


@dataclass
class ExportFilter:
    successful_only: bool = True  # keep steps of successful episodes only
    dedupe: bool = True  # drop repeated (screen, prompt, answer) triples
    max_per_task: int | None = None  # cap on samples per env id
    history_window: int = 8  # previous actions shown in the prompt, as InternVLPolicy shows them
    bins: int | None = None  # snap coordinates to this many cells per axis (InternVLCodec(bins)); None: as logged


def _screen_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def run_to_samples(run_dir: str | Path, filters: ExportFilter) -> list[dict]:
    run = load_run(run_dir)
    ok = {e["episode_id"]: e["success"] for e in run.episodes.to_pylist()}
    samples, history, seen = [], {}, set()
    per_task: Counter = Counter()
    codec = InternVLCodec(filters.bins)
    for step in sorted(run.steps.to_pylist(), key=lambda s: (s["episode_id"], s["step"])):
        past = history.setdefault(step["episode_id"], [])
        shown = past[-filters.history_window:]
        # Re-encoded from the logged Action, so `bins` applies to the answer and the history alike.
        answer = codec.encode(action_from_dict(json.loads(step["action"]))) if step["action_text"] else None
        past.append(answer or f"<unparsed: {step['raw_text'][:80]}>")
        if answer is None or (filters.successful_only and not ok.get(step["episode_id"], False)):
            continue
        if filters.max_per_task is not None and per_task[step["env_id"]] >= filters.max_per_task:
            continue
        image = run.screen_path(step["screenshot"])
        prompt = user_prompt(step["instruction"], shown)
        if filters.dedupe:
            key = (_screen_digest(image), prompt, answer)
            if key in seen:
                continue
            seen.add(key)
        per_task[step["env_id"]] += 1
        samples.append({
            "id": f"{run.manifest['run_id']}/{step['episode_id']}/{step['step']}",
            "image": str(image.resolve()),
            "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}],
            "env_id": step["env_id"],
        })
    return samples


def export_sft(run_dirs: list[str | Path], out: str | Path, name: str = "viragent_sft",
               filters: ExportFilter | None = None) -> dict:
    """Write OUT/NAME.jsonl and OUT/NAME_meta.json; returns the meta entry (with per-task counts)."""
    filters = filters or ExportFilter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples: list[dict] = []
    for run_dir in run_dirs:
        samples.extend(run_to_samples(run_dir, filters))
    jsonl = out / f"{name}.jsonl"
    with jsonl.open("w", encoding="utf-8") as f:
        for sample in samples:
            f.write(json.dumps(sample, ensure_ascii=False) + "\n")
    # InternVL's meta format: dataset name -> {root, annotation, data_augment, repeat_time, length}.
    meta = {name: {"root": "/", "annotation": str(jsonl.resolve()), "data_augment": False, "repeat_time": 1,
                   "length": len(samples)}}
    (out / f"{name}_meta.json").write_text(json.dumps(meta, indent=2))
    counts = Counter(s["env_id"] for s in samples)
    return {**meta[name], "per_task": dict(sorted(counts.items()))}


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
