"""Can the tiny preset learn to see where a widget is? Train it from scratch on generated pointing screens only,
then score it with `viragent bench grounding`'s own scorer. Prints one JSON line.

    .venv/bin/python examples/pointing_diagnostic.py --steps 400 --single          # one button per screen
    .venv/bin/python examples/pointing_diagnostic.py --steps 400 --lr 3e-4          # 3-9 named widgets
    .venv/bin/python examples/pointing_diagnostic.py --steps 400 --single --system "You are a GUI agent."
    .venv/bin/python examples/pointing_diagnostic.py --steps 400 --single --freeze-vision
    .venv/bin/python examples/pointing_diagnostic.py --steps 2000 --region-loss 1.0     # + region-token loss

This is the experiment behind EXPERIMENTS.md "Why the tiny policy falls short": if `hit_rate` stays far
below `chance` and `content_ratio` falls towards 0 while the loss drops, the LLM has learned to answer
without the image. It uses the trainer's own pieces (model.train.sft) on in-memory screens.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch

from viragent.agent.grounding import pointing_task, score_pointing
from viragent.agent.internvl_policy import tiny_tokenizer
from viragent.agent.prompts import user_prompt
from viragent.model.inference import VLMEngine
from viragent.model.loading import build_random
from viragent.model.processor import InternVLChatProcessor
from viragent.model.train.sft import SFTConfig, collate, cosine_lr, encode_sample, micro_batch_loss_terms
from viragent.tools import Click, InternVLCodec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--single", action="store_true", help="one button alone on each screen")
    ap.add_argument("--system", default=None, help="a system prompt before the image (a constant prefix)")
    ap.add_argument("--freeze-vision", action="store_true",
                    help="keep the ViT and projector at their random init; train the LLM only")
    ap.add_argument("--region-loss", type=float, default=0.0,
                    help="weight of the region-token loss (each visual token names the text under it)")
    ap.add_argument("--eval-every", type=int, default=0, help="also score every N steps (0: only at the end)")
    ap.add_argument("--bins", type=int, default=32, help="click coordinates snapped to N cells, as the recipe does")
    ap.add_argument("--eval", type=int, default=120, help="held-out screens to score")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    tokenizer = tiny_tokenizer()
    model = build_random("tiny", tokenizer)
    processor = InternVLChatProcessor(tokenizer, tile=224, tokens_per_tile=64, max_tiles=1, system=args.system)
    codec, rng = InternVLCodec(args.bins), random.Random(1)

    def sample() -> dict:
        image, instruction, target, _, regions = pointing_task(rng, args.single)
        answer = codec.encode(Click(x=target.centre[0], y=target.centre[1]))
        return {"image": [image], "conversations": [{"value": user_prompt(instruction, [])}, {"value": answer}],
                "regions": regions if args.region_loss else None}

    def score(step: int) -> dict:
        model.eval()
        scores = score_pointing(VLMEngine(model, processor), samples=args.eval, single=args.single)
        model.train()
        print(json.dumps({"step": step, **scores}), flush=True)
        return scores

    config = SFTConfig(steps=args.steps, lr=args.lr, warmup_steps=50)
    if args.freeze_vision:  # does the LM loss wash the image out of the ViT, or can the LLM not use it at all?
        for module in (model.model.vision_tower, model.model.multi_modal_projector):
            module.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.95))
    model.train()
    started, losses = time.perf_counter(), []
    for step in range(args.steps):
        batch = collate([encode_sample(sample(), processor) for _ in range(args.batch)], tokenizer.pad_token_id)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, config)
        terms = micro_batch_loss_terms(model, batch, torch.device("cpu"))
        loss = terms.numerator / terms.denominator
        region = terms.region_sum / terms.region_count if args.region_loss else torch.zeros(())
        optimizer.zero_grad(set_to_none=True)
        (loss + args.region_loss * region).backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        losses.append(loss.item())
        if args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            score(step + 1)
    scores = score(args.steps)
    model.eval()
    head, tail = losses[:20], losses[-20:]
    print(json.dumps({**vars(args), "loss_first": sum(head) / len(head), "loss_last": sum(tail) / len(tail),
                      **scores, "train_s": round(time.perf_counter() - started)}))


if __name__ == "__main__":
    main()
