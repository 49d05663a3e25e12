"""What the InternVL policy is shown: the system prompt and the user turn (shared by acting and training data).

Kept free of heavy imports so data generators can use it alone.
"""

SYSTEM_PROMPT = (
    "You are a GUI agent. You see a screenshot and a task. Answer with exactly one action call. "
    "Coordinates are integers from 0 to 1000 across the screenshot. Actions: click(x=, y=), "
    "type(text=\"...\", submit=false), key(keys=[\"ctrl\", \"a\"]), scroll(x=, y=, dy=), done(), "
    "turn_left(), turn_right(), forward(), pickup(), drop(), toggle()."
)


def user_prompt(instruction: str, history: list[str]) -> str:
    previous = "\n".join(history) if history else "none"
    return f"<image>\nTask: {instruction}\nPrevious actions:\n{previous}\nNext action:"
