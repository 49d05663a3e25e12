"""What the InternVL policy is shown: the system prompt and the user turn (shared by acting and training data).

Kept free of heavy imports so data generators can use it alone.
"""

SYSTEM_PROMPT = (
    "You are a GUI agent. You see a screenshot and a task. Answer with exactly one action call. "
    "Coordinates are integers from 0 to 1000 across the screenshot. Actions: click(x=, y=), "
    "type(text=\"...\", submit=false), key(keys=[\"ctrl\", \"a\"]), scroll(x=, y=, dy=), done(), "
    "turn_left(), turn_right(), forward(), pickup(), drop(), toggle()."
)


# Where the screenshot sits in the user turn. "first" is InternVL's usual `<image>\n…`. "last" puts it just
# before "Next action:", so every visual token is the same number of positions from the answer whatever the
# length of the task and the history: with rotary positions a small model can then learn "look at the cell in
# front of me" by position alone. On BabyAI's egocentric view (500-step A/B, held-out one-step accuracy) "last"
# raised pickup from 61 % to 71 % and pick-up-then-go-to from 45 % to 67 % (examples/EXPERIMENTS.md, "BabyAI: with the
# image last in the prompt").
IMAGE_POSITIONS = ("first", "last")


# "Look first" (export --look-first): the policy is first asked this about the screen alone, with no task in the
# prompt, and its answer goes into the action prompt as text (`seen`). Why: asked with the mission in the prompt,
# the tiny policy named the mission's object as the one in front (examples/EXPERIMENTS.md "Name the target too"); asked
# alone, it names it right (examples/EXPERIMENTS.md "Questions about BabyAI scenes": 99 %).
LOOK_QUESTION = "What is in front of you?"
SEEN_LINE = "In front of you: "

# What the agent holds (export --carrying): BabyAI's egocentric frame draws the agent's triangle over nearly all of
# the object it carries (8 of 256 pixels show a blue key). Without the line the tiny policy put the named object down
# at once as often as any other (43 % against 47 %); with it, still alike (20 % and 24 %): examples/EXPERIMENTS.md
# "Telling the policy what it holds".
CARRYING_LINE = "You are carrying: "


def user_prompt(instruction: str, history: list[str], image: str = "first", seen: str | None = None,
                carrying: str | None = None) -> str:
    previous = "\n".join(history) if history else "none"
    # what the policy is told beside the picture: what it faces (look-first), what it holds
    told = f"{SEEN_LINE}{seen}.\n" if seen is not None else ""
    if carrying is not None:
        told += f"{CARRYING_LINE}{carrying}.\n"
    if image == "last":
        return f"Task: {instruction}\nPrevious actions:\n{previous}\n{told}<image>\nNext action:"
    if image != "first":
        raise ValueError(f"image position must be one of {IMAGE_POSITIONS}, not {image!r}")
    return f"<image>\nTask: {instruction}\nPrevious actions:\n{previous}\n{told}Next action:"


def image_position(prompt: str) -> str | None:
    """The layout a user turn of ours was written with ("first"/"last"), or None for any other text."""
    if prompt.startswith("<image>\nTask: ") and prompt.endswith("\nNext action:"):
        return "first"
    if prompt.startswith("Task: ") and prompt.endswith("\n<image>\nNext action:"):
        return "last"
    return None
