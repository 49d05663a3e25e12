"""InternVLPolicy: the screenshot, the instruction and the last actions go in; one action in codec text comes out.

The model's raw text is kept next to the parsed action (and its token count and log-probs), so a failure can
be read later in the report.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache

import torch

from viragent.environments import Observation
from viragent.model.config import PRESETS, tokens_per_tile
from viragent.model.inference import PromptStates, VLMEngine, pick_device_dtype
from viragent.model.loading import build_random, load_pretrained, resolve_checkpoint
from viragent.model.pointer_head import PointerHead
from viragent.model.processor import InternVLChatProcessor
from viragent.model.tokenizer import train_tokenizer
from viragent.tools import ACTION_TYPES, Click, Done, InternVLCodec, Key, Type

from .pointing import ClickInBox, cells_inside, outside_axes, snapped_into
from .policies import PolicyOutput
from .prompts import SYSTEM_PROMPT, user_prompt
from .synthetic import synthetic_texts

def tokenizer_corpus(seed: int = 0, n_actions: int = 4000) -> list[str]:
    """The text the tiny tokenizer learns from: our prompts and every action form at many coordinates."""
    rng = random.Random(seed)
    codec = InternVLCodec()
    words = ["submit", "okay", "ok", "yes", "no", "cancel", "next", "previous", "button", "link", "tab", "dialog",
             "checkbox", "option", "textbox", "password", "username", "login", "enter", "select", "click", "focus",
             "the", "into", "and", "field", "text", "press", "both", "fields", "input", "go", "to", "pick", "up",
             "open", "door", "key", "ball", "box", "put", "next to", "red", "green", "blue", "purple", "yellow", "grey"]
    texts = [SYSTEM_PROMPT] * 20
    for _ in range(n_actions):
        roll = rng.random()
        if roll < 0.7:
            action = Click(x=rng.randint(0, 1000) / 1000, y=rng.randint(0, 1000) / 1000)
        elif roll < 0.85:
            action = Type(text=" ".join(rng.sample(words, 2)), submit=rng.random() < 0.3)
        else:
            action = Key(keys=rng.sample(["ctrl", "a", "enter", "tab", "shift"], rng.randint(1, 2)))
        texts.append(codec.encode(action))
    texts += [f"{name}()" for name in ACTION_TYPES] * 20
    texts += [f"{instruction}\n{answer}" for instruction, answer in synthetic_texts(rng, 1000)]
    for _ in range(1000):
        a, b = rng.sample(words, 2)
        texts.append(user_prompt(f'Click on the "{a}" {b}.', [f"click(x={rng.randint(0, 1000)}, y=1)"]))
    return texts


@lru_cache(maxsize=1)
def tiny_tokenizer():
    return train_tokenizer(tokenizer_corpus())


class InternVLPolicy:
    """An InternVL3.5 model (any size, any of the three checkpoint layouts, or a random-weight preset)."""

    def __init__(self, engine: VLMEngine, name: str = "internvl", max_new_tokens: int = 48,
                 temperature: float | None = None, seed: int = 0, image: str = "first",
                 env_options: dict[str, dict] | None = None, look: dict[str, str] | None = None,
                 decoding: dict[str, dict] | None = None, pointer: dict | None = None,
                 carrying: list[str] | None = None):
        self.engine, self.name = engine, name
        # {"token": "<box>", "bins": 32}: the marker whose logits at the image positions point at the click target
        # (train sft --pointer-loss, model/train/pointer_tokens.py) and the grid the answers were trained on;
        # None: clicks are written by the answer alone.
        self.pointer = pointer
        # A checkpoint with a pointer head (`viragent train pointer-head`) points with it instead of a marker's
        # logits ({"head": "pointer_head.safetensors", "bins": 32, "move_ratio": 8}); loaded by from_spec.
        self.pointer_head = None
        self.image = image  # where the screenshot sits in the prompt: as the checkpoint was trained
        # suite -> a question the policy asks itself about the screen alone before acting there; its answer goes
        # into the action prompt as text (export --look-first, prompts.LOOK_QUESTION)
        self.look = look or {}
        # suites whose prompts say what the agent holds (export --carrying), read from the env's info["carrying"]
        self.carrying = list(carrying or [])
        # suite -> env options the training data was collected with (e.g. BabyAI's egocentric view): the runner
        # builds that suite's envs with them unless told otherwise, so the policy sees what it learned from
        self.env_options = env_options or {}
        # suite -> how to decode there, e.g. {"babyai": {"temperature": 1.0}}: a checkpoint's own setting
        # (viragent.json "decoding"). `temperature`, when given, holds in every suite instead; 0 is greedy.
        self.decoding = decoding or {}
        self.max_new_tokens, self.temperature, self.seed = max_new_tokens, temperature, seed
        self._sample_seed, self._calls = seed, 0

    def reset(self, env) -> None:
        """The policy's only memory is the history the loop passes in. Sampling is seeded by the episode's own
        seed and the call, so an episode draws the same tokens however a run orders or splits its episodes. (Several
        different draws of one seed, as a group of RL rollouts needs, will need an offset of their own.)"""
        seed = getattr(env.unwrapped, "np_random_seed", None)
        self._sample_seed = 1_000_003 * seed if isinstance(seed, int) and seed >= 0 else self.seed
        self._calls = 0

    @property
    def decoding_in_use(self) -> dict[str, dict]:
        """How it decodes per suite, for the run's manifest: {"babyai": {"temperature": 1.0}}; "*" for every suite
        under an override; {} when greedy everywhere."""
        if self.temperature is not None:
            return {"*": {"temperature": self.temperature}} if self.temperature > 0 else {}
        return self.decoding

    def temperature_for(self, suite: str) -> float:
        if self.temperature is not None:
            return self.temperature
        return float(self.decoding.get(suite, {}).get("temperature", 0.0))

    def act(self, observation: Observation, history: list[str]) -> PolicyOutput:
        suite = str(observation.info.get("task", "")).split("/")[0]
        question = self.look.get(suite)
        seen = self.look_at(observation, question) if question else None
        prompt = user_prompt(observation.instruction, history, image=self.image, seen=seen,
                             carrying=self.held(observation, suite))
        # A pointer reads the prompt's hidden states: generate keeps them from its own prefill
        gen = self._generate(observation, prompt, self.temperature_for(suite), keep_states=bool(self.pointer))
        # The log keeps what the policy saw first, in the words a thinking policy writes ("In front: red box."),
        # so the report and examples/babyai_thoughts.py read both kinds of policy alike.
        text = gen.text if seen is None else f"In front: {seen}. {gen.text}"
        out = PolicyOutput.from_text(text, n_tokens=len(gen.token_ids), logprob_sum=gen.logprob_sum,
                                     logprob_mean=gen.logprob_mean)
        if self.pointer and isinstance(out.action, Click):
            return self.point_click(observation, prompt, out, gen.prompt_states)
        return out

    def held(self, observation: Observation, suite: str) -> str | None:
        """What the agent holds, for a checkpoint trained to read it in this suite's prompts; else None."""
        if suite not in self.carrying:
            return None
        held = observation.info.get("carrying")
        if held is None:
            raise ValueError(f"{self.name} was trained with what the agent holds in its {suite} prompts, but this "
                             f"env's info has no 'carrying'; run it on viragent's {suite} envs, which report it")
        return str(held)

    def point_click(self, observation: Observation, prompt: str, out: PolicyOutput,
                    states: PromptStates | None = None) -> PolicyOutput:
        """The answer, with a click kept inside the visual token the pointer picks (the pointer head, or the
        pointer-token logits; agent/pointing.py):
        a click outside it is written again with its numbers limited to the grid cells inside that token, or
        moved to the token's centre where the grid's numbers are not single tokens.
        `states`: the prompt's hidden states from the generation that wrote `out` (else computed again here)."""
        probs, boxes = self.engine.pointer(observation.screenshot, prompt, self.pointer.get("token"),
                                           head=self.pointer_head, states=states)
        best = int(probs.argmax())
        box = boxes[best]
        # The pointer's probability on the token(s) the answer's own click lies in: a click moves only where the
        # pointer is `move_ratio` times surer of its token than of the answer's (1: whenever they differ). An
        # unsure pointer moving clicks the answer had right costs more than it wins (EXPERIMENTS.md, runs/ph).
        best_p = float(probs[best])
        answer_p = max((float(probs[i]) for i, b in enumerate(boxes) if not any(outside_axes(out.action, b))),
                       default=0.0)
        stats = {**out.stats, "pointer_p": round(best_p, 4), "pointer_answer_p": round(answer_p, 4)}
        if not any(outside_axes(out.action, box)) or best_p < float(self.pointer.get("move_ratio", 1.0)) * answer_p:
            return PolicyOutput(out.action, out.raw_text, None, stats)
        grid = InternVLCodec(self.pointer.get("bins"))  # the grid the answers were trained on, history too
        xs, ys = cells_inside(grid, box[0], box[2]), cells_inside(grid, box[1], box[3])
        try:
            constrain = ClickInBox(self.engine.tokenizer, xs, ys)
        except ValueError:  # multi-token numbers (a 0-1000 grid): no per-token limit, so the token's centre
            return PolicyOutput(snapped_into(out.action, box, grid), out.raw_text, None, stats)
        again = self._generate(observation, prompt, temperature=0.0, constrain=constrain.starting_at)
        redone = PolicyOutput.from_text(again.text)
        click = redone.action if isinstance(redone.action, Click) else snapped_into(out.action, box, grid)
        # raw_text stays the answer as first written, so the log and the report show both it and the click made.
        return PolicyOutput(click, out.raw_text, None, stats)

    def look_at(self, observation: Observation, question: str) -> str:
        """The policy's own answer to `question` about the screen, with no task or history in the prompt."""
        gen = self._generate(observation, user_prompt(question, [], image=self.image), temperature=0.0)
        action = PolicyOutput.from_text(gen.text).action  # the same parse as an action's
        answer = action.answer if isinstance(action, Done) else None
        # Unparsable: the raw words, cut to a phrase, so the action prompt still has the format it was trained on.
        return (answer or gen.text.strip().split("\n")[0][:40] or "nothing").rstrip(".")

    def _generate(self, observation: Observation, prompt: str, temperature: float, constrain=None,
                  keep_states: bool = False):
        self._calls += 1
        return self.engine.generate([observation.screenshot], [prompt], max_new_tokens=self.max_new_tokens,
                                    temperature=temperature, seed=self._sample_seed + self._calls,
                                    constrain=constrain, keep_prompt_states=keep_states)[0]

    @classmethod
    def from_spec(cls, spec: str, seed: int = 0, device: str | None = None,
                  temperature: float | None = None, dtype: torch.dtype | None = None) -> "InternVLPolicy":
        """'tiny' / '1B' / … (random weights, same architecture), a shipped checkpoint ('viragent-tiny') or a
        local checkpoint directory. `temperature` overrides the checkpoint's own decoding in every suite. `dtype`
        overrides the device's serving dtype (bf16 on CUDA, fp32 on CPU): training wants fp32 master weights."""
        device_, serving_dtype = pick_device_dtype(device)
        dtype = dtype or serving_dtype
        # tiny sees one 224-px tile and no system prompt: ~110 tokens a sample instead of ~230 is twice the
        # training speed on a CPU, and a model trained from scratch learns the format from the data itself.
        settings = {"max_tiles": 1, "system": None} if spec == "tiny" else {"max_tiles": 6, "system": SYSTEM_PROMPT}
        prompt, env_options, decoding, pointer = {"image": "first", "look": {}}, {}, {}, None
        if spec in PRESETS:
            tokenizer = tiny_tokenizer()  # published presets without weights get it too: no Qwen3 offline
            model = build_random(spec, tokenizer, seed=seed, dtype=dtype, device=device_)
        else:
            directory = resolve_checkpoint(spec)
            model, tokenizer, _ = load_pretrained(directory, dtype=dtype, device=device_)
            # InternVL trains with up to 12 tiles; 6 keeps a screen under ~1.8k visual tokens. Our own
            # checkpoints record the settings they were trained with, and must be served with the same.
            meta_file = directory / "viragent.json"
            if meta_file.exists():
                meta = json.loads(meta_file.read_text())
                settings.update(meta.get("processor", {}))
                prompt.update(meta.get("prompt", {}))
                env_options = meta.get("env", {})
                decoding = meta.get("decoding", {})
                pointer = meta.get("pointer")
        processor = InternVLChatProcessor(tokenizer, tile=model.config.vision_config.image_size[0],
                                          tokens_per_tile=tokens_per_tile(model.config),
                                          min_tiles=settings.get("min_tiles", 1), max_tiles=settings["max_tiles"],
                                          system=settings["system"])
        policy = cls(VLMEngine(model, processor), name=f"internvl:{spec}", seed=seed, image=prompt["image"],
                     env_options=env_options, look=prompt["look"], decoding=decoding, temperature=temperature,
                     pointer=pointer, carrying=prompt.get("carrying"))
        if pointer and pointer.get("head"):
            policy.pointer_head = PointerHead.load(directory).to(device_)
        return policy

    def processor_settings(self) -> dict:
        """What a checkpoint trained from this policy must be served with (saved in viragent.json)."""
        proc = self.engine.processor
        return {"min_tiles": proc.min_tiles, "max_tiles": proc.max_tiles, "system": proc.system}
