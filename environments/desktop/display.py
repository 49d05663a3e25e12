"""A private X display: start Xvfb on a free display number, wait until it answers, tear it down.

We never touch a display we did not start unless the caller names one explicitly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path


class DisplayUnavailable(RuntimeError):
    """Xvfb is missing or would not start."""


def _display_free(number: int) -> bool:
    return not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists()


class VirtualDisplay:
    def __init__(self, width: int = 640, height: int = 480, depth: int = 24, first: int = 90):
        self.width, self.height, self.depth, self.first = width, height, depth, first
        self.process: subprocess.Popen | None = None
        self.name: str | None = None

    def start(self) -> str:
        binary = shutil.which("Xvfb")
        if binary is None:
            raise DisplayUnavailable("Xvfb is not installed: `sudo apt-get install xvfb` (the README's set-up "
                                     "command does it), or pass display=':N' to use a display you already run")
        for number in range(self.first, self.first + 200):
            if not _display_free(number):
                continue
            process = subprocess.Popen(
                [binary, f":{number}", "-screen", "0", f"{self.width}x{self.height}x{self.depth}", "-nolisten", "tcp",
                 "-noreset"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            socket = Path(f"/tmp/.X11-unix/X{number}")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and process.poll() is None and not socket.exists():
                time.sleep(0.02)
            if process.poll() is None and socket.exists():
                self.process, self.name = process, f":{number}"
                return self.name
            process.kill()  # lost a race for that number: try the next
        raise DisplayUnavailable("no free X display number between :{0} and :{1}".format(self.first, self.first + 199))

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    def env(self) -> dict:
        return {**os.environ, "DISPLAY": self.name}
