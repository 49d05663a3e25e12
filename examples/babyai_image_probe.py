"""Is a BabyAI failure one of seeing or of using what is seen? Two numbers per action on held-out demonstrations.

- policy: how often the checkpoint's greedy answer is the expert's action (one step, the recorded history).
- probe: how often a linear classifier on the checkpoint's visual tokens alone (the projector's output, what the
  LLM is given; no mission, no history), fitted on the training demonstrations, names it.

Where the probe finds an action the policy never answers, the image carries the answer and the LLM ignores it.

    viragent collect --suite babyai --episodes 40 --seed 300000 --max-steps 64 --out runs/babyai-heldout
    viragent export runs/babyai-heldout --bins 32 --out runs/babyai-heldout/data --name babyai
    python examples/babyai_image_probe.py --policy viragent-tiny --train runs/tiny-policy/data/babyai_meta.json \
        --heldout runs/babyai-heldout/data/babyai_meta.json
"""

from __future__ import annotations

import argparse
from collections import Counter

import torch
from PIL import Image

from viragent.agent.datasets import load_sft
from viragent.agent.internvl_policy import InternVLPolicy
from viragent.model.train.sft import collate, encode_sample


def action_of(sample: dict) -> str:
    return sample["conversations"][1]["value"].split("(")[0]


def policy_hits(policy: InternVLPolicy, samples: list[dict], batch: int = 16) -> list[bool]:
    """Whether greedy decoding gives each sample's answer: every answer token is the argmax given the ones before
    it (one teacher-forced pass instead of a generate call per sample)."""
    model, processor = policy.engine.model, policy.engine.processor
    hits = []
    for k in range(0, len(samples), batch):
        encoded = [encode_sample(s, processor) for s in samples[k:k + batch]]
        inputs = collate(encoded, processor.tokenizer.pad_token_id)
        with torch.no_grad():
            logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                           pixel_values=inputs["pixel_values"]).logits
        labels = inputs["labels"][:, 1:]
        supervised = labels != -100
        right = (logits[:, :-1].argmax(-1) == labels) | ~supervised
        hits += right.all(dim=1).tolist()
    return hits


def visual_tokens(policy: InternVLPolicy, samples: list[dict], batch: int = 64) -> torch.Tensor:
    """Each sample's visual tokens, flattened: the probe's input. A BabyAI sample has one image (a path, or a
    list of one path as `load_sft` gives it)."""
    first = lambda image: image if isinstance(image, str) else image[0]  # noqa: E731
    rows = []
    for k in range(0, len(samples), batch):
        images = [Image.open(first(s["image"])).convert("RGB") for s in samples[k:k + batch]]
        rows.append(policy.engine.visual_tokens(images).flatten(1))
    return torch.cat(rows)


def fit_probe(x: torch.Tensor, y: torch.Tensor, classes: int, steps: int = 300) -> torch.nn.Linear:
    probe = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.AdamW(probe.parameters(), lr=1e-3, weight_decay=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(probe(x), y).backward()
        optimizer.step()
    return probe


def probe_against_policy(policy: InternVLPolicy, train: list[dict], heldout: list[dict], label) -> tuple[Counter, ...]:
    """Per label of the held-out samples (`label(sample)`: an action, a colour): how many there are, how many the
    policy answers greedily, and how many a linear probe on the visual tokens, fitted on `train`, names."""
    classes = sorted({label(s) for s in train})
    index = {c: i for i, c in enumerate(classes)}
    x_train, x_test = visual_tokens(policy, train), visual_tokens(policy, heldout)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-5
    probe = fit_probe((x_train - mean) / std, torch.tensor([index[label(s)] for s in train]), len(classes))
    with torch.no_grad():
        probed = [classes[i] for i in probe((x_test - mean) / std).argmax(1).tolist()]
    gold = [label(s) for s in heldout]
    answered = Counter(g for g, hit in zip(gold, policy_hits(policy, heldout)) if hit)
    return Counter(gold), answered, Counter(g for g, p in zip(gold, probed) if p == g)


def print_probe_table(totals: Counter, answered: Counter, probe_hits: Counter, label: str, count: str,
                      policy: str = "policy") -> dict:
    """Print and return, per label, its count and the shares the policy answers and the probe names
    (`probe_against_policy`'s three counters); `count` names the count's column and key."""
    width = max(len(label), *map(len, totals))
    print(f"{label:>{width}} {count:>6} {policy:>{len(policy)}} {'probe':>8}")
    table = {}
    for c in sorted(totals):
        n = totals[c]
        table[c] = {count: n, "policy": answered[c] / n, "probe": probe_hits[c] / n}
        print(f"{c:>{width}} {n:>6} {100 * answered[c] / n:>{len(policy) - 1}.0f}% {100 * probe_hits[c] / n:>7.0f}%")
    return table


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="viragent-tiny", help="a checkpoint (directory or shipped name)")
    parser.add_argument("--train", required=True, help="exported BabyAI meta json the probe is fitted on")
    parser.add_argument("--heldout", required=True, help="exported BabyAI meta json of other seeds")
    parser.add_argument("--families", default="pickup,putnext,pick-up-then-go-to")
    parser.add_argument("--max-train", type=int, default=4000)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    families = set(args.families.split(","))
    keep = lambda samples: [s for s in samples if s["env_id"].split("/")[1] in families]  # noqa: E731
    train, heldout = keep(load_sft(args.train))[:args.max_train], keep(load_sft(args.heldout))
    policy = InternVLPolicy.from_spec(args.policy)
    totals, answered, probe_hits = probe_against_policy(policy, train, heldout, action_of)
    print(f"{args.policy}: {len(heldout)} held-out steps of {', '.join(sorted(families))} "
          f"(probe fitted on {len(train)} training steps)")
    return print_probe_table(totals, answered, probe_hits, "expert action", "steps")


if __name__ == "__main__":
    main()
