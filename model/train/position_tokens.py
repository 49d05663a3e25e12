"""Position-token loss: every visual token's embedding is asked which column of the image it stands for.

Why it exists: a policy trained from random weights with the language and region-token losses finds the *row*
of a named widget (y error 2 px on `viragent bench grounding`) but not its *column* (x error 31 px, correlation
with the truth 0.00). The LLM sees an image's tokens row-major in one 1-D sequence: a token's row grows with its
place in the sequence, which rotary positions carry, but its column is that place modulo the row length, which a
4-layer LLM does not compute. Where a token sits across the image is known only to the ViT (its absolute position
embeddings), and nothing asks the projector to pass it on.

This loss asks it to, in the LLM's own terms: the projector's output for each visual token, scored against the
input embeddings of the texts that name positions along the width (left to right), must pick the one over the
token's centre. With tied embeddings those are the rows the LM head answers with, so a token the LLM attends to
brings the number of its column with it. It changes no module and no checkpoint: one more loss term while
training, read from the projector's output by a forward hook. Like all of model/, this knows nothing about GUIs;
the caller names the texts. No library has this loss.
"""

from __future__ import annotations

import torch

from .region_tokens import Box


def token_centres_x(token_boxes: list[Box]) -> torch.Tensor:
    """Each visual token's horizontal centre, 0-1 of the image's width."""
    return torch.tensor([(x0 + x1) / 2 for x0, _, x1, _ in token_boxes])


def position_token_loss_terms(features: torch.Tensor, position_embeddings: torch.Tensor,
                              centres_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of cross-entropy, count) over visual tokens.

    features: (N, hidden) the projector's output for N visual tokens; position_embeddings: (bins, hidden) the input
    embeddings of the texts naming `bins` equal cells across the width, left to right; centres_x: (N,) each
    token's centre, 0-1. Kept apart so gradient accumulation divides by the whole batch's count.
    """
    bins = position_embeddings.shape[0]
    targets = (centres_x * bins).long().clamp(0, bins - 1)
    logits = features.float() @ position_embeddings.float().T
    losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    return losses.sum(), torch.tensor(float(len(targets)), device=features.device)
