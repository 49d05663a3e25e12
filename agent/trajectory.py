"""Trajectory logs: what every step did, written as it happens, read back as Arrow tables.

A run directory holds `steps.parquet`, `episodes.parquet`, `manifest.json` and lossless `screens/*.png`.
While a run is going, each step is appended to `journal.jsonl` and flushed to disk, and each finished
episode to `parts/*.parquet`; `close()` merges them. A killed process therefore loses at most the step in
flight, and `load_run` reads a finished run and an interrupted one alike.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from pydantic import BaseModel


class Step(BaseModel):
    run_id: str
    episode_id: int
    step: int
    env_id: str
    seed: int | None
    instruction: str
    action: str | None  # the Action as JSON; None when the policy's output did not parse
    action_text: str | None  # the Action in the policy's codec, e.g. click(x=500, y=300)
    raw_text: str  # exactly what the policy wrote
    parse_error: str | None = None
    action_error: str | None = None  # the env could not execute it (counted as a no-op)
    n_tokens: int | None = None
    logprob_sum: float | None = None
    logprob_mean: float | None = None
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    success: bool | None = None
    env_ms: float = 0.0
    policy_ms: float = 0.0
    screenshot: str  # file name under screens/: the screen the policy saw before acting
    width: int = 0
    height: int = 0
    url: str | None = None
    elapsed_s: float = 0.0
    # The words on the screen the policy saw, where the env reports them (BrowserEnv(text_regions=True)): JSON
    # [{"text", "box": [x0, y0, x1, y1]}], 0-1000 of the screenshot. Export passes them on as training regions.
    regions: str | None = None
    # What an embodied agent faces, where the env reports it (BabyAI's info["front"]: "red ball", "wall"). Export
    # can write it before the answer (--think-front), so that a policy names what it sees before it acts.
    front: str | None = None
    # What the mission asks for now and whether the agent faces it (BabyAI's info["target"], info["on_target"]):
    # export --think-target writes them before the answer, so the pickup decision follows from the policy's words.
    target: str | None = None
    on_target: bool | None = None
    # Where that object is on the screen (BabyAI's info["target_box"]): JSON [x0, y0, x1, y1], 0-1000. Export
    # --point-targets makes it the sample's point, a dense target for the pointer-token loss.
    target_box: str | None = None
    # What an embodied agent holds, where the env reports it (BabyAI's info["carrying"]: "red ball", "nothing").
    # The frame cannot show it (minigrid draws the agent's triangle over it); export --carrying writes it in the prompt.
    carrying: str | None = None
    # A random move the collector made in the expert's place (NoisyExpertPolicy): shown in later steps' history,
    # never exported as a training answer.
    perturbed: bool = False


class Episode(BaseModel):
    run_id: str
    episode_id: int
    env_id: str
    seed: int | None
    instruction: str
    steps: int
    success: bool
    reward: float
    terminated: bool
    truncated: bool
    errors: int  # steps whose action did not parse or could not be executed
    end_reason: str  # done | task_over | step_limit | time_limit | error_budget | crashed
    env_ms_mean: float
    policy_ms_mean: float
    wall_s: float


class RunWriteError(RuntimeError):
    """The run directory could not be written (a full disk, say). Steps already written are kept."""


def _arrow_schema(model: type[BaseModel]) -> pa.Schema:
    kinds = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}
    fields = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        base = next((t for t in getattr(ann, "__args__", (ann,)) if t in kinds), str)
        fields.append(pa.field(name, kinds[base]))
    return pa.schema(fields)


STEP_SCHEMA = _arrow_schema(Step)
EPISODE_SCHEMA = _arrow_schema(Episode)


def _table(rows: Iterable[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=schema)


class RunWriter:
    """Appends steps and episodes to a run directory, crash-safe (see the module docstring)."""

    def __init__(self, root: str | os.PathLike, manifest: dict[str, Any]):
        self.root = Path(root)
        (self.root / "screens").mkdir(parents=True, exist_ok=True)
        (self.root / "parts").mkdir(exist_ok=True)
        self._guard(lambda: self._write_json(self.root / "manifest.json", manifest))
        self._journal = open(self.root / "journal.jsonl", "a", encoding="utf-8")
        self._open: dict[int, list[dict]] = {}  # episode id -> its steps so far (several when vectorised)

    # Every write goes through here, so a full disk reads the same wherever it happens.
    def _guard(self, write):
        try:
            return write()
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise RunWriteError(f"the disk is full while writing {self.root}: free some space, then run "
                                    "again with --resume; every step written so far is kept") from exc
            raise RunWriteError(f"cannot write the run directory {self.root}: {exc}") from exc

    @staticmethod
    def _write_json(path: Path, data: dict) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str))
        tmp.replace(path)

    def save_screen(self, name: str, screenshot: np.ndarray) -> None:
        self._guard(lambda: Image.fromarray(screenshot).save(self.root / "screens" / name, compress_level=1))

    def append_step(self, step: Step) -> None:
        row = step.model_dump()

        def write():
            self._journal.write(json.dumps(row) + "\n")
            self._journal.flush()
            os.fsync(self._journal.fileno())

        self._guard(write)
        self._open.setdefault(step.episode_id, []).append(row)

    def episode_rows(self, episode_id: int) -> list[dict]:
        """The steps written so far for an episode in progress."""
        return list(self._open.get(episode_id, []))

    def end_episode(self, episode: Episode) -> None:
        part = self.root / "parts" / f"episode-{episode.episode_id:06d}"

        def write():
            pq.write_table(_table(self._open.get(episode.episode_id, []), STEP_SCHEMA), part.with_suffix(".steps.tmp"))
            pq.write_table(_table([episode.model_dump()], EPISODE_SCHEMA), part.with_suffix(".episode.tmp"))
            # Rename steps first: an episode part is only trusted when its steps part exists.
            part.with_suffix(".steps.tmp").replace(part.with_suffix(".steps.parquet"))
            part.with_suffix(".episode.tmp").replace(part.with_suffix(".episode.parquet"))

        self._guard(write)
        self._open.pop(episode.episode_id, None)

    def close(self) -> None:
        self._journal.close()
        self._guard(lambda: compact_run(self.root))
        # The parts stay (a resumed run appends to them); the journal is only for the step in flight.
        (self.root / "journal.jsonl").unlink(missing_ok=True)


def _read_parts(root: Path) -> tuple[pa.Table, pa.Table]:
    steps, episodes = [], []
    for ep_file in sorted((root / "parts").glob("*.episode.parquet")):
        steps_file = ep_file.with_name(ep_file.name.replace(".episode.", ".steps."))
        if steps_file.exists():
            episodes.append(pq.read_table(ep_file, schema=EPISODE_SCHEMA))
            steps.append(pq.read_table(steps_file, schema=STEP_SCHEMA))
    merge = lambda ts, schema: pa.concat_tables(ts) if ts else schema.empty_table()  # noqa: E731
    return merge(steps, STEP_SCHEMA), merge(episodes, EPISODE_SCHEMA)


def _journal_rows(root: Path) -> list[dict]:
    path = root / "journal.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # the step in flight when the process died
    return rows


def compact_run(root: str | os.PathLike) -> None:
    """Merge an interrupted or finished run's parts into steps.parquet / episodes.parquet."""
    root = Path(root)
    run = load_run(root)
    pq.write_table(run.steps, root / "steps.parquet.tmp")
    pq.write_table(run.episodes, root / "episodes.parquet.tmp")
    (root / "steps.parquet.tmp").replace(root / "steps.parquet")
    (root / "episodes.parquet.tmp").replace(root / "episodes.parquet")


class Run:
    """A run read back: its manifest, its step and episode tables, and where its screens are."""

    def __init__(self, root: Path, manifest: dict, steps: pa.Table, episodes: pa.Table, unfinished: list[dict]):
        self.root, self.manifest, self.steps, self.episodes = root, manifest, steps, episodes
        self.unfinished_steps = unfinished  # steps of an episode that was in flight when the run stopped

    def screen_path(self, name: str) -> Path:
        return self.root / "screens" / name

    def episode_steps(self, episode_id: int) -> list[dict]:
        return [r for r in self.steps.to_pylist() if r["episode_id"] == episode_id]


def load_run(path: str | os.PathLike) -> Run:
    """Read a run directory, finished or interrupted (parts + journal are merged on the fly)."""
    root = Path(path)
    manifest_file = root / "manifest.json"
    if not manifest_file.exists():
        raise FileNotFoundError(f"{root} is not a viragent run directory (no manifest.json); "
                                "make one with `viragent run --out DIR`")
    manifest = json.loads(manifest_file.read_text())
    if (root / "parts").exists():
        steps, episodes = _read_parts(root)
    else:
        steps = pq.read_table(root / "steps.parquet", schema=STEP_SCHEMA)
        episodes = pq.read_table(root / "episodes.parquet", schema=EPISODE_SCHEMA)
    finished = set(episodes.column("episode_id").to_pylist())
    unfinished = [r for r in _journal_rows(root) if r["episode_id"] not in finished]
    return Run(root, manifest, steps, episodes, unfinished)
