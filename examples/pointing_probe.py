"""Where a policy's clicks go wrong: in reading the screen, or in finding the named widget among what it read?

On exported click samples (held-out seeds: collect with --seed 0) it measures, per task:
- reading: how often the LLM's logits at an image position name the first token of the word under it (the
  region-token head, model/train/region_tokens.py), over all words and over the words the task quotes;
- pointing: how often the visual token the pointer-token logits pick (model/train/pointer_tokens.py) holds the
  expert's click, against how often the policy's own answer lands on that token. The pointer column means
  something only for a checkpoint trained with `train sft --pointer-loss`.
On samples exported with `--point-targets` (BabyAI: the point is the cell of the object the mission names) it
measures how often the pointer picks that object's token, the question such a checkpoint was trained on there.

    viragent collect --suite miniwob --tasks click-test-2,click-button,click-link,click-option --episodes 20 \
        --seed 0 --out runs/probe-demos
    viragent export runs/probe-demos --bins 32 --image last --out runs/probe-data --name probe
    python examples/pointing_probe.py internvl:viragent-tiny runs/probe-data/probe.jsonl

    viragent collect --suite babyai --episodes 10 --seed 0 --env-option view=agent --out runs/probe-grid
    viragent export runs/probe-grid --bins 32 --image last --point-targets --out runs/probe-data --name grid
    python examples/pointing_probe.py internvl:runs/bpt/finetune/final runs/probe-data/grid.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict

import torch
from PIL import Image
from rich.console import Console
from rich.table import Table

from viragent.agent.policies import make_policy
from viragent.model.train.pointer_tokens import pointer_targets
from viragent.model.train.sft import IGNORE, collate, encode_sample
from viragent.tools import Click
from viragent.tools.codecs import get_codec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", help="internvl:NAME or internvl:DIR")
    parser.add_argument("data", help="an exported jsonl with `regions` (collect records them on MiniWoB), or "
                        "with points (export --point-targets)")
    args = parser.parse_args()
    policy = make_policy(args.policy)
    engine, head = policy.engine, getattr(policy, "pointer_head", None)  # a pointer head points when there is one
    model, processor, tok, codec = engine.model, engine.processor, engine.tokenizer, get_codec("internvl")
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for line in open(args.data):
        sample = json.loads(line)
        answer = codec.parse(sample["conversations"][1]["value"])
        task, prompt = sample["env_id"].split("/")[-1], sample["conversations"][0]["value"]
        c = counts[task]
        if not isinstance(answer, Click) and sample.get("point"):  # a named object's cell (export --point-targets)
            probs, boxes = engine.pointer(Image.open(sample["image"]).convert("RGB"), prompt, "<box>", head=head)
            c["pointer on the named object"][0] += int(probs.argmax()) in pointer_targets(sample["point"], boxes)
            c["pointer on the named object"][1] += 1
        if not isinstance(answer, Click) or not sample.get("regions"):
            continue
        # Reading: the region-token head at every image position, against the word drawn there.
        encoded = encode_sample(sample, processor)
        batch = collate([encoded], tok.pad_token_id)
        with torch.inference_mode():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           pixel_values=batch["pixel_values"].to(next(model.parameters()).dtype)).logits[0]
        named = logits[batch["input_ids"][0] == model.config.image_token_id].argmax(-1).tolist()
        quoted = re.findall(r'"([^"]+)"', prompt)
        quoted_id = tok(quoted[0], add_special_tokens=False)["input_ids"][0] if quoted else None
        for said, label in zip(named, encoded["region_labels"].tolist()):
            if label in (IGNORE, tok.pad_token_id):
                continue
            c["words named"][0] += said == label
            c["words named"][1] += 1
            if label == quoted_id:
                c["quoted word named"][0] += said == label
                c["quoted word named"][1] += 1
        # Pointing: the pointer's token and the answer's click, against the token holding the expert's click.
        image = Image.open(sample["image"]).convert("RGB")
        probs, boxes = engine.pointer(image, prompt, "<box>", head=head)
        right = set(pointer_targets((answer.x * 1000, answer.y * 1000), boxes))
        said = codec.parse(engine.generate([image], [prompt], max_new_tokens=48)[0].text)
        answered = set(pointer_targets((said.x * 1000, said.y * 1000), boxes)) if isinstance(said, Click) else set()
        c["pointer on the click's token"][0] += int(probs.argmax()) in right
        c["answer on the click's token"][0] += bool(answered & right)
        c["pointer on the click's token"][1] += 1
        c["answer on the click's token"][1] += 1
    columns = ["words named", "quoted word named", "pointer on the click's token", "answer on the click's token",
               "pointer on the named object"]
    table = Table(title=f"{args.policy} on {args.data}")
    table.add_column("task")
    for column in columns:
        table.add_column(column, justify="right")
    for task, c in sorted(counts.items()):
        table.add_row(task, *(f"{100 * c[k][0] / c[k][1]:.0f} % of {c[k][1]}" if c[k][1] else "–" for k in columns))
    Console().print(table)


if __name__ == "__main__":
    main()
