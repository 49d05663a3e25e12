"""Benchmarks that print numbers and ratios measured in one run (never asserted in tests).

`bench_env`: our MiniWoB env's reset / screenshot / step against the same work done with raw Playwright
on the same page, so the cost of our layer shows as a ratio. `bench_train`: the trainer's samples/s, fp32
against bf16 autocast on the same batches. `bench_pointer`: what a click step with a pointer costs, with the
prompt's states from the answer's own prefill against a second forward pass.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
from PIL import Image

from viragent.environments import make_env, parse_env_id
from viragent.environments.browser.chromium import CHROMIUM_ARGS, find_chromium, shared_playwright


def _ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _bench_ours(env_id: str, steps: int) -> dict[str, float]:
    env = make_env(env_id, max_steps=10_000)
    u = env.unwrapped
    env.reset(seed=0)  # launch outside the timings
    resets, shots, step_times = [], [], []
    seed = 1
    for _ in range(steps):
        t0 = time.perf_counter()
        env.reset(seed=seed)
        resets.append(time.perf_counter() - t0)
        seed += 1
        action = u.expert_action()
        t0 = time.perf_counter()
        env.step(action)
        step_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        u._observe(u._status())
        shots.append(time.perf_counter() - t0)
    env.close()
    return {"reset_ms": _ms(resets), "screenshot_ms": _ms(shots), "step_ms": _ms(step_times)}


def _bench_raw(env_id: str, steps: int) -> dict[str, float]:
    """The same page, seeds and clicks in plain Playwright: click, read the reward, screenshot, decode."""
    suite, task = parse_env_id(env_id)
    probe = suite.make(task)  # only for the url, sizes and the expert's click points
    region = probe.unwrapped.region
    url, width, height = probe.unwrapped.url, probe.unwrapped.width, probe.unwrapped.height
    # Precompute the clicks with our env, so both sides click the same points.
    probe.reset(seed=0)
    clicks = []
    for seed in range(1, steps + 1):
        probe.reset(seed=seed)
        a = probe.unwrapped.expert_action()
        clicks.append((a.x * region[0], a.y * region[1]))
    probe.close()
    clip = {"x": 0, "y": 0, "width": region[0], "height": region[1]}
    resets, shots, step_times = [], [], []
    # One Playwright driver per thread: the same one our env uses.
    browser = shared_playwright().chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_function("() => typeof core !== 'undefined' && core.cover_div !== null")
    for seed, (x, y) in enumerate(clicks, start=1):
        t0 = time.perf_counter()
        page.evaluate("(s) => { core.endEpisode(0); Math.seedrandom(String(s)); core.startEpisodeReal(); }", seed)
        page.evaluate("() => core.getUtterance()")
        np.asarray(Image.open(io.BytesIO(page.screenshot(type="png", clip=clip))).convert("RGB"))
        resets.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        page.mouse.click(x, y)
        page.evaluate("() => [WOB_DONE_GLOBAL, WOB_RAW_REWARD_GLOBAL, core.getUtterance()]")
        np.asarray(Image.open(io.BytesIO(page.screenshot(type="png", clip=clip))).convert("RGB"))
        step_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.asarray(Image.open(io.BytesIO(page.screenshot(type="png", clip=clip))).convert("RGB"))
        shots.append(time.perf_counter() - t0)
    browser.close()
    return {"reset_ms": _ms(resets), "screenshot_ms": _ms(shots), "step_ms": _ms(step_times)}


def bench_env(env_id: str = "miniwob/click-button", steps: int = 50) -> list[dict]:
    """Rows of (metric, ours ms, raw ms, ratio), medians over `steps` samples each.

    MiniWoB is compared with raw Playwright on the same page; other suites report our numbers alone
    (raw_ms None), with steps/s.
    """
    if env_id.startswith("miniwob/"):
        ours = _bench_ours(env_id, steps)
        raw = _bench_raw(env_id, steps)
        return [{"metric": k, "ours_ms": ours[k], "raw_ms": raw[k], "ratio": ours[k] / raw[k]} for k in ours]
    ours = _bench_expert_steps(env_id, steps)
    return [{"metric": k, "ours_ms": v, "raw_ms": None, "ratio": None} for k, v in ours.items()]


def _bench_expert_steps(env_id: str, steps: int) -> dict[str, float]:
    """Expert steps through env.step (episodes restart as needed); screenshot = env.render()."""
    env = make_env(env_id, max_steps=10_000)
    u = env.unwrapped
    resets, step_times, shots = [], [], []
    seed = 0
    t0 = time.perf_counter()
    env.reset(seed=seed)
    resets.append(time.perf_counter() - t0)
    while len(step_times) < steps:
        action = u.expert_action()
        t0 = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        step_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        env.render()
        shots.append(time.perf_counter() - t0)
        if terminated or truncated:
            seed += 1
            t0 = time.perf_counter()
            env.reset(seed=seed)
            resets.append(time.perf_counter() - t0)
    env.close()
    return {"reset_ms": _ms(resets), "screenshot_ms": _ms(shots), "step_ms": _ms(step_times),
            "steps_per_s": 1000 / _ms(step_times)}


def bench_model(preset: str = "tiny", batch_sizes: tuple[int, ...] = (1, 8), new_tokens: int = 32,
                repeats: int = 3, device: str | None = None) -> list[dict]:
    """Prefill ms and decode tokens/s of a random-weight preset on MiniWoB-sized screens.

    Prefill = a generate() of one token; decode = the extra time of `new_tokens` forced tokens (EOS ignored).
    """
    import torch

    from viragent.agent.internvl_policy import InternVLPolicy, user_prompt

    policy = InternVLPolicy.from_spec(preset, device=device)
    engine = policy.engine
    screen = np.random.RandomState(0).randint(0, 255, (210, 160, 3), dtype=np.uint8)
    visual_tokens = len(engine.processor.tiles(screen)) * engine.processor.tokens_per_tile
    sync = torch.cuda.synchronize if engine.device.type == "cuda" else (lambda: None)
    rows = []
    for batch in batch_sizes:
        inputs = engine._inputs([screen] * batch, [user_prompt("Click on the OK button.", [])] * batch)

        def timed(n: int) -> float:
            best = float("inf")
            for _ in range(repeats):
                sync()
                t0 = time.perf_counter()
                with torch.inference_mode():
                    engine.model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                          pad_token_id=engine.tokenizer.pad_token_id)
                sync()
                best = min(best, time.perf_counter() - t0)
            return best

        timed(2)  # warm-up (kernels, allocator)
        prefill = timed(1)
        full = timed(new_tokens)
        rows.append({"batch": batch, "prompt_tokens": int(inputs["input_ids"].shape[1]),
                     "visual_tokens_per_image": visual_tokens, "prefill_ms": prefill * 1000,
                     "decode_tokens_per_s": batch * (new_tokens - 1) / max(full - prefill, 1e-9),
                     "device": str(engine.device), "dtype": str(next(engine.model.parameters()).dtype)})
    return rows


def bench_train(steps: int = 8, batch_size: int = 16, region_loss: float = 1.0, device: str | None = None,
                attentions: tuple[str, ...] = ("sdpa", "eager")) -> list[dict]:
    """Optimizer steps of the tiny preset on generated screens: samples/s for each attention kernel, in fp32 and
    with bf16 autocast.

    Every row starts from the same random weights and sees the same batches (encoded once, outside the timing),
    so the ratios are the model's own cost: the forward, backward and AdamW step of the recipe's trainer, fp32
    weights as the trainer keeps them. The first step of each is a warm-up and not counted (the first three on CUDA,
    whose first steps also pay for its libraries' start). On CUDA the trainer always runs under bf16 autocast, so
    there is one row per attention kernel.
    """
    import random

    import torch

    from viragent.agent.internvl_policy import InternVLPolicy
    from viragent.agent.synthetic import make_task, task_sample
    from viragent.model.train.sft import collate, encode_sample, micro_batch_loss_terms, optimised_loss

    rng = random.Random(0)
    policy = InternVLPolicy.from_spec("tiny", device=device, dtype=torch.float32)
    proc, model, device_ = policy.engine.processor, policy.engine.model, policy.engine.device
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    batches = []
    warmup = 3 if device_.type == "cuda" else 1
    for _ in range(steps + warmup):
        samples = [task_sample(*make_task(rng)) for _ in range(batch_size)]
        batches.append(collate([encode_sample(s, proc) for s in samples], proc.tokenizer.pad_token_id))
    default = model.config._attn_implementation
    sync = torch.cuda.synchronize if device_.type == "cuda" else (lambda: None)
    rows = []
    for attention in attentions:
        model.set_attn_implementation(attention)
        for bf16 in ((True,) if device_.type == "cuda" else (False, True)):
            model.load_state_dict(initial)
            model.train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            elapsed = 0.0
            for i, batch in enumerate(batches):
                sync()
                t0 = time.perf_counter()
                terms = micro_batch_loss_terms(model, batch, device_, cpu_bf16=bf16)
                loss, _ = optimised_loss(terms, terms.denominator, int(terms.region_count), region_loss)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                sync()
                elapsed += (time.perf_counter() - t0) if i >= warmup else 0.0
            rows.append({"attention": attention, "default": attention == default,
                         "precision": "bf16 autocast" if bf16 else "fp32",
                         "samples_per_s": steps * batch_size / elapsed, "tokens_per_sample":
                         float(batches[0]["attention_mask"].sum()) / batch_size, "device": str(device_),
                         "threads": torch.get_num_threads()})
    model.set_attn_implementation(default)
    model.eval()
    return rows


def bench_pointer(policy_spec: str = "viragent-tiny", samples: int = 24, seed: int = 999_999) -> list[dict]:
    """Median ms of one click step of an InternVL policy on generated screens: the answer alone, the answer and
    the pointer from a second forward pass of the prompt (as before generate kept the prompt's states), and the
    answer and the pointer from the states generate kept. Same screens, prompts and answers in every row; the
    pointer's probabilities are checked to agree. The constrained rewrite of a moved click is not included."""
    import random

    import torch

    from viragent.agent.grounding import pointing_task
    from viragent.agent.internvl_policy import InternVLPolicy
    from viragent.agent.prompts import user_prompt

    policy = InternVLPolicy.from_spec(policy_spec)
    if not policy.pointer:
        raise ValueError(f"{policy_spec} has no pointer (no pointer head, no --pointer-loss): nothing to measure; "
                         "try viragent-tiny or a checkpoint from `viragent train pointer-head`")
    engine, token, head = policy.engine, policy.pointer.get("token"), policy.pointer_head
    rng = random.Random(seed)
    tasks = [pointing_task(rng) for _ in range(samples)]
    screens = [np.asarray(t[0].convert("RGB")) for t in tasks]
    prompts = [user_prompt(t[1], [], image=policy.image) for t in tasks]
    sync = torch.cuda.synchronize if engine.device.type == "cuda" else (lambda: None)

    def answer_alone(screen, prompt):
        engine.generate([screen], [prompt], max_new_tokens=policy.max_new_tokens)

    def second_pass(screen, prompt):
        engine.generate([screen], [prompt], max_new_tokens=policy.max_new_tokens)
        return engine.pointer(screen, prompt, token, head=head)[0]

    def kept_states(screen, prompt):
        kept = engine.generate([screen], [prompt], max_new_tokens=policy.max_new_tokens, keep_prompt_states=True)
        return engine.pointer(screen, prompt, token, head=head, states=kept[0].prompt_states)[0]

    for screen, prompt in zip(screens[:2], prompts[:2]):  # warm-up (kernels, allocator), and the check
        if not torch.allclose(second_pass(screen, prompt), kept_states(screen, prompt), atol=1e-4):
            raise RuntimeError("the pointer's probabilities from the kept states differ from a second pass")
    paths = {"answer alone": answer_alone, "answer + pointer, second pass": second_pass,
             "answer + pointer, kept states": kept_states}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for screen, prompt in zip(screens, prompts):  # the paths take turns on each screen, so drift hits all alike
        for name, step in paths.items():
            sync()
            t0 = time.perf_counter()
            step(screen, prompt)
            sync()
            times[name].append(time.perf_counter() - t0)
    return [{"path": name, "ms": _ms(times[name]), "device": str(engine.device)} for name in paths]
