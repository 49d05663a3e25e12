"""Clicks moved onto the visual token a checkpoint points at (train sft --pointer-loss, model/train/pointer_tokens.py).

Trained with that loss, the tiny policy's visual tokens tell which of them holds the named widget more often than
its answer's numbers do (examples/EXPERIMENTS.md "Pointing with the visual tokens"), but a token is coarse: 20 x 26
px of a MiniWoB screen, larger than a checkbox. So where the answer's click falls outside the token the pointer
picks, the answer is written again with both its numbers limited to the grid cells inside that token: the token
chooses the place, the answer's own numbers the spot within it. transformers' LogitsProcessor is the hook for that; the
rule itself is ours (no library points with a token's logits).
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from viragent.tools import Click, InternVLCodec

Box = tuple[float, float, float, float]


def cells_inside(grid: InternVLCodec, low: float, high: float) -> list[int]:
    """The grid's values (0-1000 integers) whose cell centre lies in [low, high) of the 0-1 axis; the nearest one
    when none does (a box narrower than a cell)."""
    bins = grid.bins or 1000
    values = sorted({grid.snap((cell + 0.5) / bins) for cell in range(bins)})
    inside = [v for v in values if low <= v / 1000 < high]
    return inside or [min(values, key=lambda v: abs(v / 1000 - (low + high) / 2))]


class ClickInBox(LogitsProcessor):
    """While a click is written, the number after `x=` (after `y=`) may only be one of `xs` (`ys`): single
    tokens of the tokenizer. Other text is left alone."""

    def __init__(self, tokenizer, xs: list[int] | None, ys: list[int] | None, prompt_length: int = 0):
        self.tokenizer, self.prompt_length = tokenizer, prompt_length
        self.allowed = {"x=": self._ids(xs), "y=": self._ids(ys)}

    def starting_at(self, prompt_length: int) -> "ClickInBox":
        """This limit for a prompt of that many tokens (VLMEngine.generate's `constrain` asks for it so)."""
        self.prompt_length = prompt_length
        return self

    def _ids(self, values: list[int] | None) -> torch.Tensor | None:
        if values is None:
            return None
        ids = [self.tokenizer(str(v), add_special_tokens=False)["input_ids"] for v in values]
        if any(len(i) != 1 for i in ids):
            raise ValueError(f"the grid values {values} are not single tokens of this tokenizer")
        return torch.tensor([i[0] for i in ids])

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        for row in range(input_ids.shape[0]):
            written = self.tokenizer.decode(input_ids[row, self.prompt_length:])
            if not written.lstrip().startswith("click("):
                continue
            for ending, ids in self.allowed.items():
                if ids is not None and written.endswith(ending):
                    ids = ids.to(scores.device)
                    kept = scores[row, ids].clone()
                    scores[row] = float("-inf")
                    scores[row, ids] = kept
        return scores


def outside_axes(click: Click, box: Box) -> tuple[bool, bool]:
    """Whether the click's x (y) lies outside the box."""
    x0, y0, x1, y1 = box
    return not x0 <= click.x < x1, not y0 <= click.y < y1


def snapped_into(click: Click, box: Box, grid: InternVLCodec) -> Click:
    """On each axis where the click lies outside the box, the grid value nearest the box's centre."""
    x0, y0, x1, y1 = box
    off_x, off_y = outside_axes(click, box)
    x = grid.snap((x0 + x1) / 2) / 1000 if off_x else click.x
    y = grid.snap((y0 + y1) / 2) / 1000 if off_y else click.y
    return click.model_copy(update={"x": x, "y": y})
