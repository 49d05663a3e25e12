"""Runs -> training data in InternVL's own SFT format (so the official InternVL scripts can read it too).

One jsonl line per step: {"id", "image", "conversations": [{"from": "human", "value": "<image>\\n…"},
{"from": "gpt", "value": "click(x=…, y=…)"}]} plus a meta json naming the file, its image root and length.
The human turn is exactly the prompt InternVLPolicy shows the model, so training and acting agree.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .internvl_policy import user_prompt
from .trajectory import load_run


@dataclass
class ExportFilter:
    successful_only: bool = True  # keep steps of successful episodes only
    dedupe: bool = True  # drop repeated (screen, prompt, answer) triples
    max_per_task: int | None = None  # cap on samples per env id
    history_window: int = 8  # previous actions shown in the prompt, as InternVLPolicy shows them


def _screen_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def run_to_samples(run_dir: str | Path, filters: ExportFilter) -> list[dict]:
    run = load_run(run_dir)
    ok = {e["episode_id"]: e["success"] for e in run.episodes.to_pylist()}
    samples, history, seen = [], {}, set()
    per_task: Counter = Counter()
    for step in sorted(run.steps.to_pylist(), key=lambda s: (s["episode_id"], s["step"])):
        past = history.setdefault(step["episode_id"], [])
        shown = past[-filters.history_window:]
        past.append(step["action_text"] or f"<unparsed: {step['raw_text'][:80]}>")
        if step["action_text"] is None or (filters.successful_only and not ok.get(step["episode_id"], False)):
            continue
        if filters.max_per_task is not None and per_task[step["env_id"]] >= filters.max_per_task:
            continue
        image = run.screen_path(step["screenshot"])
        prompt = user_prompt(step["instruction"], shown)
        if filters.dedupe:
            key = (_screen_digest(image), prompt, step["action_text"])
            if key in seen:
                continue
            seen.add(key)
        per_task[step["env_id"]] += 1
        samples.append({
            "id": f"{run.manifest['run_id']}/{step['episode_id']}/{step['step']}",
            "image": str(image.resolve()),
            "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": step["action_text"]}],
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


def load_sft(meta_path: str | Path) -> list[dict]:
    """Read back every dataset a meta json names (InternVL's format), images resolved against `root`."""
    meta = json.loads(Path(meta_path).read_text())
    samples = []
    for entry in meta.values():
        root = Path(entry.get("root", "/"))
        with open(entry["annotation"], encoding="utf-8") as f:
            for line in f:
                sample = json.loads(line)
                images = sample["image"] if isinstance(sample["image"], list) else [sample["image"]]
                sample["image"] = [str(root / p) for p in images]
                samples.extend([sample] * int(entry.get("repeat_time", 1)))
    return samples
