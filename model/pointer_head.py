"""A pointer head: which visual token holds the point the answer should click, read from the LLM's last hidden states.

Why it exists: the tiny policy's visual tokens read the labels under them, yet its written click lands on the named
widget little better than chance; the pointer-token loss (model/train/pointer_tokens.py), trained through the LM head,
points better but costs the rest of the policy (typing, BabyAI) what it gains. This head is GUI-Actor's idea in the
smallest form that leaves the policy untouched: it is trained on the frozen model's hidden states
(model/train/pointer_head.py), so adding it changes no answer; `InternVLPolicy` then keeps a click inside the token
it picks, as it does for the pointer-token logits (agent/pointing.py). No library has it.

Each visual token's score is the sum of
- a bias per position inside the tile (where targets usually are),
- an MLP of the token's own hidden state (the image comes after the task in our prompts, so each token has seen it),
- the scaled dot product of a query, projected from the hidden state at the prompt's last position (the one that
  writes the answer), with a key projected from the token's hidden state (GUI-Actor's attention over patches).
It is saved beside the model as `pointer_head.safetensors` with its sizes in the metadata.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

HEAD_FILE = "pointer_head.safetensors"


class PointerHead(nn.Module):
    def __init__(self, hidden_size: int, tokens_per_tile: int, dim: int = 128, mlp_size: int = 256):
        super().__init__()
        self.hidden_size, self.tokens_per_tile, self.dim, self.mlp_size = hidden_size, tokens_per_tile, dim, mlp_size
        self.key_norm, self.query_norm = nn.LayerNorm(hidden_size), nn.LayerNorm(hidden_size)
        self.local = nn.Sequential(nn.Linear(hidden_size, mlp_size), nn.GELU(), nn.Linear(mlp_size, 1))
        self.query_proj, self.key_proj = nn.Linear(hidden_size, dim), nn.Linear(hidden_size, dim)
        self.position_bias = nn.Parameter(torch.zeros(tokens_per_tile))

    def forward(self, visual: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """visual: (batch, tokens, hidden), one image's visual tokens in the model's order (tiles, then the
        thumbnail, each `tokens_per_tile` long); query: (batch, hidden). Returns (batch, tokens) logits."""
        keys, query = self.key_norm(visual), self.query_norm(query)
        attention = torch.einsum("bd,btd->bt", self.query_proj(query), self.key_proj(keys)) / math.sqrt(self.dim)
        position = self.position_bias.repeat(visual.shape[1] // self.tokens_per_tile)
        return position + self.local(keys).squeeze(-1) + attention

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / HEAD_FILE
        sizes = {"hidden_size": self.hidden_size, "tokens_per_tile": self.tokens_per_tile, "dim": self.dim,
                 "mlp_size": self.mlp_size}
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, path,
                  metadata={k: str(v) for k, v in sizes.items()})
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "PointerHead":
        path = Path(directory) / HEAD_FILE
        with safe_open(path, "pt") as f:
            sizes = {k: int(v) for k, v in f.metadata().items() if k != "format"}
        head = cls(**sizes)
        head.load_state_dict({k: v.float() for k, v in load_file(path).items()})  # shipped bf16 -> float32
        return head.eval()
