"""Can the tiny policy tell whether the object in front is the one a question names? Three tools for that study.

The question probe (examples/babyai_question_probe.py) found the policy names the object in front but answers
"is the red ball in front of you?" at chance. These tools separate seeing from comparing:

    python examples/babyai_match_study.py data OUT [--answer plain|thought|asked] [--samples 16000]
        balanced yes/no questions, every scene with an object in front (level seeds 700000 on). `thought` answers
        'In front: purple ball. done(answer="no")', `asked` adds the question's words after it:
        'In front: purple ball. Asked: purple box. done(answer="no")'. Train with
        `viragent train sft --init CKPT --data OUT/match_meta.json …`.
    python examples/babyai_match_study.py score --policy internvl:DIR [--questions 200] [--text]
        held-out questions of the same kind (seeds 800000 on): answered right, whether its own "In front:" words
        were right, and whether its yes/no agrees with them. --text: held-out pure-text questions (`viragent
        screens --world text` writes them for training; these are drawn from seed 950000 on).
    python examples/babyai_match_study.py text [--hidden 256] [--steps 3000] [--batch-size 16] [--lr 1e-3]
        the same comparison as text alone ("In front: purple ball. Asked: purple box." -> yes/no) for a random
        LLM of the tiny preset's shape: no image, the loss on the answer token only. Prints held-out accuracy.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

from rich.console import Console

from viragent.agent import grid_questions
from viragent.agent.prompts import user_prompt
from viragent.environments.embodied.babyai import describe

console = Console(width=120)


def match_question(env, rng: random.Random):
    """(question, "yes"/"no", what is in front) when an object stands in front of the agent, else None."""
    front = env.level.grid.get(*env.level.front_pos)
    if not grid_questions.is_object(front):
        return None
    return (*grid_questions.is_it_in_front(front, rng), describe(front))


def match_scenes(n: int, seed: int):
    """Yield (frame, question, answer, front) for N scenes with an object in front (grid_questions' scenes)."""
    found = 0
    for _, _, frame, asked in grid_questions.grid_scenes(4 * n, seed=seed, questions_per_scene=1,
                                                         asker=match_question):
        if asked[0] is not None:
            found += 1
            yield frame, *asked[0]
        if found >= n:
            return


def asked_name(question: str) -> str:
    """"Is the purple box in front of you?" -> "purple box"."""
    return re.fullmatch(r"Is the (.*) in front of you\?", question).group(1)


def answer_text(question: str, answer: str, front: str, style: str) -> str:
    asked = asked_name(question)
    thought = {"plain": "", "thought": f"In front: {front}. ", "asked": f"In front: {front}. Asked: {asked}. "}[style]
    return f'{thought}done(answer="{answer}")'


def write_data(out: Path, samples: int, style: str) -> None:
    from PIL import Image

    (out / "scenes").mkdir(parents=True, exist_ok=True)
    with (out / "match.jsonl").open("w") as f:
        for k, (frame, question, answer, front) in enumerate(match_scenes(samples, seed=700000)):
            path = out / "scenes" / f"{k:06d}.png"
            Image.fromarray(frame).save(path, compress_level=1)
            f.write(json.dumps({"id": f"match/{k}", "image": str(path.resolve()), "conversations": [
                {"from": "human", "value": user_prompt(question, [], image="last")},
                {"from": "gpt", "value": answer_text(question, answer, front, style)}]}) + "\n")
    meta = {"match": {"root": "/", "annotation": str((out / "match.jsonl").resolve()), "data_augment": False,
                      "repeat_time": 1, "length": samples, "env_options": {"babyai": {"view": "agent"}}}}
    (out / "match_meta.json").write_text(json.dumps(meta, indent=2))
    console.print(f"{samples} questions ({style}) -> {out / 'match_meta.json'}")


def score(policy_spec: str, questions: int) -> Counter:
    from viragent.agent.policies import make_policy
    from viragent.environments import Observation
    from viragent.tools import Done

    policy, counts = make_policy(policy_spec), Counter()
    for frame, question, truth, front in match_scenes(questions, seed=800000):
        out = policy.act(Observation(screenshot=frame, instruction=question), [])
        said = out.action.answer if isinstance(out.action, Done) else None
        counts["asked"] += 1
        counts["right"] += said == truth
        counts[f"said {said}"] += 1
        seen = re.match(r"In front: (.*?)\. ", out.raw_text)
        if seen:
            counts["named what is in front"] += seen.group(1) == front
            named = set(asked_name(question).split())
            counts["yes/no agrees with its own words"] += said == ("yes" if named <= set(seen.group(1).split()) else "no")
    return counts


def score_text(policy_spec: str, questions: int, seed: int = 950000) -> Counter:
    """Held-out pure-text questions (seeds apart from `viragent screens --world text`'s 900000): the generated
    answer, whole, right."""
    from viragent.agent.policies import make_policy

    policy, counts, rng = make_policy(policy_spec), Counter(), random.Random(seed)
    cases = [grid_questions.text_match_question(rng)[:2] for _ in range(questions)]
    for k in range(0, questions, 50):
        prompts, replies = zip(*cases[k:k + 50])
        for gen, reply in zip(policy.engine.generate([None] * len(prompts), list(prompts), max_new_tokens=24),
                              replies):
            said, yes_no = gen.text.strip(), re.search(r'answer=.(yes|no)', gen.text)
            counts["asked"] += 1
            counts["right"] += said == reply
            if "door" in reply:
                counts["door asked"] += 1
                counts["door right"] += said == reply
            counts[f"said {yes_no.group(1) if yes_no else None}"] += 1
    return counts


def text_only(hidden: int, steps: int, lr: float, batch_size: int = 16, seed: int = 0) -> list[tuple[int, float]]:
    """Train a random text LLM of the tiny preset's shape on the comparison alone; (step, held-out accuracy)."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from viragent.agent.internvl_policy import tiny_tokenizer
    from viragent.model.config import TINY_TEXT

    tokenizer = tiny_tokenizer()
    shape = {k: v for k, v in TINY_TEXT.items() if k != "model_type"}
    config = Qwen3Config(**{**shape, "hidden_size": hidden, "intermediate_size": 3 * hidden})
    config.vocab_size = max(config.vocab_size, len(tokenizer))
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = random.Random(seed)

    def batch(n: int):
        ids = []
        for _ in range(n):
            front = grid_questions.random_object(rng)
            question, answer = grid_questions.is_it_in_front(front, rng)
            text = (f"Task: {question}\nNext action: In front: {describe(front)}. Asked: {asked_name(question)}. "
                    f"done(answer=\"{answer}")
            ids.append(tokenizer(text)["input_ids"])
        width = max(map(len, ids))
        inputs = torch.zeros(n, width, dtype=torch.long)
        labels = torch.full((n, width), -100)
        for row, tokens in enumerate(ids):  # "yes" and "no" are one token each: the loss is on that token alone
            inputs[row, :len(tokens)] = torch.tensor(tokens)
            labels[row, len(tokens) - 1] = tokens[-1]
        return inputs, labels

    curve = []
    for step in range(1, steps + 1):
        inputs, labels = batch(batch_size)
        model(input_ids=inputs, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % 250 == 0:
            with torch.no_grad():
                inputs, labels = batch(256)
                last = (labels != -100).int().argmax(1)
                predicted = model(input_ids=inputs).logits[torch.arange(256), last - 1].argmax(-1)
                accuracy = (predicted == inputs[torch.arange(256), last]).float().mean().item()
            curve.append((step, accuracy))
            console.print(f"step {step}: held-out accuracy {100 * accuracy:.0f} %")
    return curve


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data")
    data.add_argument("out", type=Path)
    data.add_argument("--answer", choices=("plain", "thought", "asked"), default="thought")
    data.add_argument("--samples", type=int, default=16000)
    scoring = commands.add_parser("score")
    scoring.add_argument("--policy", required=True)
    scoring.add_argument("--questions", type=int, default=200)
    scoring.add_argument("--text", action="store_true",
                         help="pure-text questions, as `viragent screens --world text` writes")
    text = commands.add_parser("text")
    text.add_argument("--hidden", type=int, default=256)
    text.add_argument("--steps", type=int, default=3000)
    text.add_argument("--lr", type=float, default=1e-3)
    text.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    if args.command == "data":
        return write_data(args.out, args.samples, args.answer)
    if args.command == "text":
        return text_only(args.hidden, args.steps, args.lr, args.batch_size)
    counts = (score_text if args.text else score)(args.policy, args.questions)
    for key in ("right", "door right", "said yes", "said no", "said None", "named what is in front",
                "yes/no agrees with its own words"):
        if key in counts and key.startswith("door"):
            console.print(f"{key}: {counts[key]} of {counts['door asked']}")
        elif key in counts:
            console.print(f"{key}: {counts[key]} of {counts['asked']} ({100 * counts[key] / counts['asked']:.0f} %)")
    return counts


if __name__ == "__main__":
    main()
