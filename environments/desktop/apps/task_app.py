"""The desktop task programs: small Tk windows a real agent clicks and types into.

Run as `python task_app.py TASK SEED STATE_FILE`. The program writes its own state (widget geometry in screen
pixels, values, done/success) to STATE_FILE; success is the program's verdict, never read from pixels.
A line `sync N` on stdin makes it process pending input events and write its state with `"sync": N`.
"""

import json
import os
import queue
import random
import sys
import threading
import tkinter as tk

WORDS = ["apple", "banana", "cherry", "grape", "lemon", "mango", "olive", "peach", "plum", "melon", "kiwi", "fig"]
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


class TaskApp:
    def __init__(self, task: str, seed: int, state_file: str):
        self.rng = random.Random(seed)
        self.task, self.state_file = task, state_file
        self.root = tk.Tk()
        self.root.title(f"viragent {task}")
        self.root.geometry(f"+{self.rng.randint(10, 200)}+{self.rng.randint(10, 120)}")
        self.widgets: dict[str, tk.Widget] = {}
        self.done, self.success, self.sync = False, False, 0
        self.instruction = ""
        getattr(self, "build_" + task.replace("-", "_"))()
        self.requests: queue.Queue = queue.Queue()
        threading.Thread(target=self._read_stdin, daemon=True).start()
        self.root.after(50, self._poll)

    # ---- tasks ----------------------------------------------------------------------------------------
    def build_form(self):
        self.want = {"name": self.rng.choice(NAMES), "email": f"{self.rng.choice(NAMES)}@{self.rng.choice(WORDS)}.org"}
        self.instruction = f'Enter "{self.want["name"]}" as the name and "{self.want["email"]}" as the email, then click Submit.'
        for field in ("name", "email"):
            row = tk.Frame(self.root)
            row.pack(padx=10, pady=self.rng.randint(2, 12), anchor="w")
            tk.Label(row, text=field.capitalize() + ":", width=7, anchor="w").pack(side="left")
            self.widgets[field] = tk.Entry(row, width=self.rng.randint(18, 28))
            self.widgets[field].pack(side="left")
        self.widgets["submit"] = tk.Button(self.root, text="Submit", command=self._submit_form)
        self.widgets["submit"].pack(pady=8)

    def _submit_form(self):
        self._finish(all(self.widgets[k].get() == v for k, v in self.want.items()))

    def build_dialog(self):
        self.answer = self.rng.choice(["Yes", "No", "Cancel"])
        self.instruction = f'Answer "{self.answer}" in the "Save changes?" dialog.'
        tk.Label(self.root, text="Document editor", width=30, height=6).pack()
        dialog = tk.Toplevel(self.root)
        dialog.geometry(f"+{self.rng.randint(150, 350)}+{self.rng.randint(150, 300)}")
        tk.Label(dialog, text="Save changes?").pack(padx=20, pady=10)
        buttons = tk.Frame(dialog)
        buttons.pack(pady=6)
        for label in self.rng.sample(["Yes", "No", "Cancel"], 3):
            self.widgets[label] = tk.Button(buttons, text=label, width=6, command=lambda b=label: self._finish(b == self.answer))
            self.widgets[label].pack(side="left", padx=4)

    def build_list(self):
        items = self.rng.sample(WORDS, 6)
        self.want_item = self.rng.choice(items)
        self.instruction = f'Select "{self.want_item}" in the list and click OK.'
        self.widgets["list"] = tk.Listbox(self.root, height=len(items), exportselection=False)
        for item in items:
            self.widgets["list"].insert("end", item)
        self.widgets["list"].pack(padx=10, pady=10)
        self.widgets["ok"] = tk.Button(self.root, text="OK", command=self._submit_list)
        self.widgets["ok"].pack(pady=6)

    def _submit_list(self):
        chosen = self.widgets["list"].curselection()
        self._finish(bool(chosen) and self.widgets["list"].get(chosen[0]) == self.want_item)

    def build_text_edit(self):
        self.want_text = " ".join(self.rng.sample(WORDS, 2))
        self.instruction = f'Change the text in the field to "{self.want_text}" and click Save.'
        self.widgets["text"] = tk.Entry(self.root, width=30)
        self.widgets["text"].insert(0, " ".join(self.rng.sample(WORDS, 3)))
        self.widgets["text"].pack(padx=10, pady=self.rng.randint(8, 30))
        self.widgets["save"] = tk.Button(self.root, text="Save",
                                         command=lambda: self._finish(self.widgets["text"].get() == self.want_text))
        self.widgets["save"].pack(pady=6)

    def build_menu(self):
        self.commands = ["Uppercase", "Lowercase", "Reverse", "Clear"]
        self.want_command = self.rng.choice(self.commands)
        self.instruction = f"Use the Edit menu to run {self.want_command}."
        bar = tk.Frame(self.root, relief="raised", bd=1)
        bar.pack(fill="x")
        for name in ("File", "Edit", "View"):
            button = tk.Menubutton(bar, text=name)
            menu = tk.Menu(button, tearoff=0)
            entries = self.commands if name == "Edit" else ["New", "Open", "Close"]
            for entry in entries:
                menu.add_command(label=entry, command=lambda m=name, e=entry: self._finish(m == "Edit" and e == self.want_command))
            button["menu"] = menu
            button.pack(side="left")
            self.widgets[f"menu:{name}"] = button
            self.widgets[f"popup:{name}"] = menu
        tk.Label(self.root, text=" ".join(self.rng.sample(WORDS, 3)), width=30, height=5).pack()

    def build_checkboxes(self):
        labels = self.rng.sample(WORDS, 5)
        self.want_checked = set(self.rng.sample(labels, self.rng.randint(1, 3)))
        self.instruction = f"Check {', '.join(sorted(self.want_checked))} (and nothing else), then click Apply."
        self.vars = {}
        for label in labels:
            self.vars[label] = tk.IntVar(value=int(self.rng.random() < 0.3))
            self.widgets[f"check:{label}"] = tk.Checkbutton(self.root, text=label, variable=self.vars[label])
            self.widgets[f"check:{label}"].pack(anchor="w", padx=10)
        self.widgets["apply"] = tk.Button(self.root, text="Apply", command=lambda: self._finish(
            {k for k, v in self.vars.items() if v.get()} == self.want_checked))
        self.widgets["apply"].pack(pady=6)

    # ---- state --------------------------------------------------------------------------------------
    def _finish(self, success: bool):
        if not self.done:
            self.done, self.success = True, bool(success)

    def _geometry(self, w: tk.Widget) -> dict:
        return {"x": w.winfo_rootx(), "y": w.winfo_rooty(), "w": w.winfo_width(), "h": w.winfo_height(),
                "visible": bool(w.winfo_ismapped())}

    def state(self) -> dict:
        focus = self.root.focus_get()
        widgets = {}
        for name, w in self.widgets.items():
            info = self._geometry(w)
            info["focused"] = w is focus
            if isinstance(w, tk.Entry):
                info["value"] = w.get()
                info["selected_all"] = bool(w.selection_present()) and w.index("sel.first") == 0 and \
                    w.index("sel.last") == len(w.get())
            if isinstance(w, tk.Listbox):
                info["items"] = []
                for i in range(w.size()):
                    bbox = w.bbox(i)
                    if bbox:
                        info["items"].append({"text": w.get(i), "x": info["x"] + bbox[0], "y": info["y"] + bbox[1],
                                              "w": bbox[2], "h": bbox[3], "selected": w.selection_includes(i)})
            if isinstance(w, tk.Menu):
                info["entries"] = []
                if info["visible"]:
                    last = w.index("end")
                    for i in range(last + 1):
                        top = w.yposition(i)
                        bottom = w.yposition(i + 1) if i < last else info["h"]
                        info["entries"].append({"text": w.entrycget(i, "label"), "x": info["x"], "y": info["y"] + top,
                                                "w": info["w"], "h": bottom - top})
            if isinstance(w, tk.Checkbutton):
                label = name.split(":", 1)[1]
                info["checked"] = bool(self.vars[label].get())
            widgets[name] = info
        return {"task": self.task, "instruction": self.instruction, "done": self.done, "success": self.success,
                "sync": self.sync, "widgets": widgets}

    def write_state(self):
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state(), f)
        os.replace(tmp, self.state_file)

    def _read_stdin(self):
        for line in sys.stdin:
            if line.startswith("sync "):
                self.requests.put(int(line.split()[1]))
        self.requests.put(None)  # stdin closed: the env is gone

    def _poll(self):
        try:
            while True:
                request = self.requests.get_nowait()
                if request is None:
                    self.root.destroy()
                    return
                self.root.update()  # take in the input events the server already delivered
                self.sync = request
                self.write_state()
        except queue.Empty:
            pass
        self.root.after(5, self._poll)


if __name__ == "__main__":
    app = TaskApp(sys.argv[1], int(sys.argv[2]), sys.argv[3])
    app.root.update()
    app.write_state()
    app.root.mainloop()
