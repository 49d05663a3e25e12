"""Batched inference: many (image, prompt) pairs -> text, token ids and log-probs; teacher-forced log-probs for RL.

fp32 on CPU; bf16 with SDPA attention on CUDA. Sampling is seeded per call, so a run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from .pointer_head import PointerHead
from .processor import InternVLChatProcessor
from .train.pointer_tokens import pointer_probabilities
from .train.region_tokens import token_boxes


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    logprobs: list[float]  # log pi(token) under the model's own (temperature 1) distribution
    prompt_states: "PromptStates | None" = None  # generate(keep_prompt_states=True): what the pointer reads

    @property
    def logprob_sum(self) -> float:
        return float(sum(self.logprobs))

    @property
    def logprob_mean(self) -> float:
        return self.logprob_sum / max(len(self.logprobs), 1)


@dataclass
class PromptStates:
    """The LLM's last hidden states (after its final norm) over one prompt, as the pointer reads them: at the
    image's positions and at the prompt's last position, the one that writes the answer."""
    visual: torch.Tensor  # (visual tokens, hidden)
    last: torch.Tensor  # (hidden,)


def pick_device_dtype(device: str | None = None) -> tuple[torch.device, torch.dtype]:
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return device, (torch.bfloat16 if device.type == "cuda" else torch.float32)


class VLMEngine:
    """A loaded InternVL model with its processor: `generate` and `sequence_logprobs` over batches."""

    def __init__(self, model, processor: InternVLChatProcessor):
        self.model, self.processor = model, processor
        self.tokenizer = processor.tokenizer
        self.stop_id = self.tokenizer.convert_tokens_to_ids("<|im_end|>")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _inputs(self, images, prompts, system=None) -> dict:
        batch = self.processor(images, prompts, system)
        batch.pop("prompts")
        dtype = next(self.model.parameters()).dtype
        return {k: (v.to(self.device, dtype) if k == "pixel_values" else v.to(self.device)) for k, v in batch.items()}

    @torch.inference_mode()
    def generate(self, images: list, prompts: list[str], *, system: str | None = None, max_new_tokens: int = 32,
                 temperature: float = 0.0, top_p: float = 1.0, seed: int | None = 0,
                 constrain: Callable[[int], LogitsProcessor] | None = None,
                 keep_prompt_states: bool = False) -> list[Generation]:
        """constrain: given the prompt's length in tokens, a transformers LogitsProcessor that limits what may be
        written (agent/pointing.py keeps a click inside one visual token).
        keep_prompt_states: each Generation also carries its prompt's PromptStates, taken from generate's own
        prefill, so the pointer needs no second forward pass of the prompt. transformers returns every layer's
        states of the prefill for that (for InternVL3.5-1B with 6 tiles, about 110 MB in bf16), kept only until
        the last layer's rows are sliced out here."""
        inputs = self._inputs(images, prompts, system)
        extra = ({"logits_processor": LogitsProcessorList([constrain(inputs["input_ids"].shape[1])])}
                 if constrain is not None else {})
        if seed is not None:
            torch.manual_seed(seed)
        sample = temperature > 0
        out = self.model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=sample,
            temperature=temperature if sample else None, top_p=top_p if sample else None, top_k=None,
            eos_token_id=self.stop_id, pad_token_id=self.tokenizer.pad_token_id,
            return_dict_in_generate=True, output_logits=True, output_hidden_states=keep_prompt_states, **extra,
        )
        new_tokens = out.sequences[:, inputs["input_ids"].shape[1]:]  # (batch, steps)
        logits = torch.stack(out.logits, dim=1).float()  # (batch, steps, vocab), before any warping
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
        # hidden_states[0] is the prefill, one tensor per layer; its last is last_hidden_state (after the final norm)
        prefill = out.hidden_states[0][-1] if keep_prompt_states else None
        results = []
        for row in range(new_tokens.shape[0]):
            ids = new_tokens[row].tolist()
            n = ids.index(self.stop_id) if self.stop_id in ids else len(ids)  # drop <|im_end|> and padding
            states = self._prompt_states(prefill[row], inputs["input_ids"][row]) if prefill is not None else None
            results.append(Generation(self.tokenizer.decode(ids[:n], skip_special_tokens=True), ids[:n],
                                      logprobs[row, :n].tolist(), states))
        return results

    def _prompt_states(self, hidden: torch.Tensor, input_ids: torch.Tensor) -> PromptStates:
        """One prompt's PromptStates from its (left-padded) row of last hidden states and input ids."""
        return PromptStates(hidden[input_ids == self.model.config.image_token_id], hidden[-1])

    @torch.inference_mode()
    def prompt_states(self, image, prompt: str, system: str | None = None) -> PromptStates:
        """PromptStates from a forward pass of one prompt (what generate(keep_prompt_states=True) also gives)."""
        inputs = self._inputs([image], [prompt], system)
        return self._prompt_states(self.model.model(**inputs).last_hidden_state[0], inputs["input_ids"][0])

    def sequence_logprobs(self, images: list, prompts: list[str], responses: list, *, system: str | None = None,
                          with_grad: bool = False) -> list[torch.Tensor]:
        """log pi(token | prompt, earlier tokens) for each response token.

        A response is text (tokenized, then <|im_end|> appended, as the model should end it) or a list of
        token ids used as they are (e.g. `Generation.token_ids`). Prompt and response are joined as ids, so
        no token can merge across the boundary.
        """
        batch = self.processor(images, prompts, system)
        prompt_ids = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in batch["prompts"]]
        response_ids = [list(r) if not isinstance(r, str)
                        else self.tokenizer(r, add_special_tokens=False)["input_ids"] + [self.stop_id]
                        for r in responses]
        sequences = [p + r for p, r in zip(prompt_ids, response_ids, strict=True)]
        width = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(input_ids)
        for row, seq in enumerate(sequences):
            input_ids[row, width - len(seq):] = torch.tensor(seq)
            mask[row, width - len(seq):] = 1
        inputs = {"input_ids": input_ids.to(self.device), "attention_mask": mask.to(self.device)}
        if "pixel_values" in batch:
            inputs["pixel_values"] = batch["pixel_values"].to(self.device, next(self.model.parameters()).dtype)
        with torch.set_grad_enabled(with_grad):
            logits = self.model(**inputs).logits.float()  # (batch, seq, vocab)
        # Position t predicts token t+1: the response's n tokens are predicted by the n positions before them.
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, inputs["input_ids"][:, 1:].unsqueeze(-1))
        logprobs = logprobs.squeeze(-1)
        return [logprobs[row, logprobs.shape[1] - len(r):] for row, r in enumerate(response_ids)]

    @torch.inference_mode()
    def pointer(self, image, prompt: str, token: str | None = None, system: str | None = None,
                head: PointerHead | None = None, states: PromptStates | None = None) -> tuple[torch.Tensor, list]:
        """Where the model points: the softmax over the image's visual tokens of `token`'s logit (a model trained
        with the pointer-token loss, model.train.pointer_tokens) or, given a pointer head (model.pointer_head), of
        its scores; both read from the prompt's forward pass. Also the part of the image (0-1 boxes) each of those
        tokens stands for. Only the marker's logit is computed, from the last hidden state at the image positions:
        a full LM head over every position would be sequence x vocabulary floats (about 1 GB for a real InternVL
        screen). `states`: this prompt's PromptStates where the caller has them already (from generate); without
        them the prompt is run through the model here."""
        states = states if states is not None else self.prompt_states(image, prompt, system)
        visual = states.visual
        if head is not None:  # the prompt's last position is the one that writes the answer, as in its training
            scores = head(visual[None].float(), states.last[None].float())[0]
        elif token is not None:
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            lm_head = self.model.get_output_embeddings()
            scores = visual @ lm_head.weight[token_id] + (lm_head.bias[token_id] if lm_head.bias is not None else 0)
        else:
            raise ValueError("pointer() needs the marker token or a pointer head")
        size = image.shape[1::-1] if hasattr(image, "shape") else image.size  # numpy (h, w, 3) or PIL
        boxes = token_boxes(self.processor.tile_grid(tuple(size)), self.processor.thumbnail,
                            self.processor.tokens_per_tile)
        return pointer_probabilities(scores), list(boxes)

    @torch.inference_mode()
    def visual_tokens(self, images: list) -> torch.Tensor:
        """What the LLM receives for each image (the projector's output), float32: (images, tokens, hidden).
        Images with the same number of tiles (one each at max_tiles=1)."""
        pixel_values = self._inputs(images, [""] * len(images))["pixel_values"]
        features = self.model.model.get_image_features(pixel_values=pixel_values)
        features = getattr(features, "pooler_output", features).float()  # (tiles, tokens per tile, hidden)
        return features.reshape(len(images), -1, features.shape[-1])

    @torch.inference_mode()
    def visual_token_stats(self, images: list) -> dict:
        """How much the visual tokens the LLM receives depend on the image, over a batch of (different) images.

        content_ratio: the std across images of each token feature, over the mean magnitude of the features.
        Near 0, every image gives the LLM (almost) the same tokens: the model cannot see what differs between
        them, whatever it was trained on. Also the mean token norms of visual tokens and of text embeddings.
        """
        if len(images) < 2:
            raise ValueError("visual_token_stats needs at least two images to compare")
        features = self.visual_tokens(images)
        text = self.model.get_input_embeddings().weight.float()
        return {"content_ratio": float(features.std(0).mean() / features.abs().mean().clamp(min=1e-12)),
                "visual_token_norm": float(features.norm(dim=-1).mean()),
                "text_embedding_norm": float(text.norm(dim=-1).mean())}
