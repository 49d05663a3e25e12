"""Pointer-token loss: the visual token under the answer's point must score highest for one marker token.

Why it exists: trained from random weights, the tiny policy's visual tokens name the word under them (the
region-token loss; on held-out MiniWoB screens the tokens over a click-button's named label name it 85 % of the
time), yet its click lands on the named widget little better than chance. Reading is there; what fails is the
answer's retrieval: to write "x=…" the LLM must single out one visual token among 64 by content and copy where
it is, from one or two supervised answer tokens per sample. This loss asks the easier, dense question instead:
at every image position, does the point the answer names lie under this token? Scored as one softmax over the
image's positions of the LM head's logit for a marker token (InternVL's own `<box>`), so it needs no new module
and changes no checkpoint layout. Each visual token sees the instruction before it (the image comes last in our
prompts), so the comparison is local: its own word against the task's. At inference the policy reads the same
logits from the prompt's forward pass and moves a click that lands outside the chosen token into it
(agent/internvl_policy.py). The pointer idea is GUI-Actor's (an action head attending over visual patches);
this is the form that fits transformers' InternVL unchanged.

A point comes with a sample as {"point": [x, y]}, 0-1000 of its (single) image, InternVL's grounding convention.
Like all of model/, this knows nothing about GUIs. No library has this loss.
"""

from __future__ import annotations

import torch

from .region_tokens import Box


def pointer_targets(point: tuple[float, float], token_boxes: list[Box] | tuple) -> list[int]:
    """The visual tokens (indices in the model's order) whose box holds `point` (0-1000): one per tile that
    covers it, and one in the thumbnail when there is one."""
    px, py = (min(max(v / 1000, 0.0), 0.999999) for v in point)
    return [i for i, (x0, y0, x1, y1) in enumerate(token_boxes) if x0 <= px < x1 and y0 <= py < y1]


def pointer_loss_terms(marker_logits: torch.Tensor, spans: list[tuple[int, int, list[int]]]
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of cross-entropy, count) over images with a point.

    marker_logits: (N,) the marker token's logit at each of a batch's N visual tokens, images in order; spans:
    (start, length, targets) per image with a point, targets indexing into that image's tokens. Each image's loss
    is -log of the softmax mass, over its own tokens, on its targets. Kept apart so gradient accumulation divides by
    the whole batch's count."""
    total = marker_logits.new_zeros((), dtype=torch.float32)
    for start, length, targets in spans:
        scores = marker_logits[start:start + length].float()
        total = total + torch.logsumexp(scores, 0) - torch.logsumexp(scores[targets], 0)
    return total, torch.tensor(float(len(spans)), device=marker_logits.device)


def pointer_probabilities(marker_logits: torch.Tensor) -> torch.Tensor:
    """Over one image's visual tokens: how likely each is to hold the point (the softmax the loss trains)."""
    return torch.softmax(marker_logits.float(), dim=-1)
