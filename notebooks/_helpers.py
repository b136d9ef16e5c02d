"""Shared set-up for the teaching notebooks (run them with this folder as the working directory).

``import _helpers`` makes ``hyperlib`` importable from a source checkout that was not pip-installed, and
gives ``ROOT`` (the repository) and ``EXAMPLES`` (the bundled real recordings). ``ABQuiz`` is the blind
A/B listening quiz of notebook 04. Plotting helpers live in ``hyperlib.plots``.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

try:
    import hyperlib  # noqa: F401
except ImportError:  # a source checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))
    import hyperlib  # noqa: F401


class ABQuiz:
    """A blind A/B listening quiz as an ipywidgets box.

    Args:
        trials: list of dicts ``{"name": str, "a": (method, audio), "b": (method, audio)}``, optionally
            with ``"reference": audio`` (the input, played first): one input, two methods. Their order
            is shuffled per trial with ``seed``, so the player labelled A is method a or b at random.
        sample_rate: Hz of the audio arrays.
    The buttons call ``answer("A")`` / ``answer("B")``, which reveals the methods, adds one win to the
    chosen method in ``tally`` (a dict method -> wins) and moves to the next trial.
    ``widget`` is the ipywidgets VBox to display.
    """

    def __init__(self, trials: list[dict], sample_rate: int = 16000, seed: int | None = None):
        import ipywidgets as widgets

        if not trials:
            raise ValueError("The quiz needs at least one trial.")
        rng = random.Random(seed)
        self.sample_rate = sample_rate
        self.trials = []
        for t in trials:
            pair = [t["a"], t["b"]]
            rng.shuffle(pair)
            self.trials.append({"name": t["name"], "A": pair[0], "B": pair[1], "reference": t.get("reference")})
        self.index = 0
        self.tally = {m: 0 for t in self.trials for m in (t["A"][0], t["B"][0])}
        self.answers: list[tuple[str, str, str]] = []  # (input name, chosen method, other method)
        self.header = widgets.HTML()
        self.reference, self.player_a, self.player_b = widgets.Output(), widgets.Output(), widgets.Output()
        self.button_a = widgets.Button(description="A is better", button_style="info")
        self.button_b = widgets.Button(description="B is better", button_style="info")
        self.button_a.on_click(lambda _: self.answer("A"))
        self.button_b.on_click(lambda _: self.answer("B"))
        self.feedback, self.score = widgets.HTML(), widgets.HTML()
        self.widget = widgets.VBox([
            self.header,
            widgets.HBox([widgets.VBox([widgets.HTML("<b>input</b>"), self.reference]),
                          widgets.VBox([widgets.HTML("<b>A</b>"), self.player_a]),
                          widgets.VBox([widgets.HTML("<b>B</b>"), self.player_b])]),
            widgets.HBox([self.button_a, self.button_b]), self.feedback, self.score])
        self._show_trial()

    @property
    def done(self) -> bool:
        return self.index >= len(self.trials)

    def _show_trial(self) -> None:
        from IPython.display import Audio, display

        self._update_score()
        for player in (self.reference, self.player_a, self.player_b):
            player.clear_output()
        if self.done:
            self.header.value = "<b>Quiz finished.</b> Re-run the cell for a new round."
            self.button_a.disabled = self.button_b.disabled = True
            return
        t = self.trials[self.index]
        self.header.value = (f"<b>Trial {self.index + 1} of {len(self.trials)}</b>: input <i>{t['name']}</i>. "
                             "Which one sounds closer to the input and more natural?")
        for player, audio in ((self.reference, t["reference"]), (self.player_a, t["A"][1]),
                              (self.player_b, t["B"][1])):
            if audio is not None:
                with player:
                    display(Audio(audio, rate=self.sample_rate))

    def _update_score(self) -> None:
        rows = "".join(f"<tr><td>{m}</td><td style='text-align:right'>{n}</td></tr>" for m, n in self.tally.items())
        self.score.value = f"<table><tr><th>method</th><th>wins</th></tr>{rows}</table>"

    def answer(self, choice: str) -> None:
        """Record that player ``choice`` ("A" or "B") sounded better, reveal the methods, go to the next trial."""
        if choice not in ("A", "B"):
            raise ValueError(f"Answer 'A' or 'B', got {choice!r}.")
        if self.done:
            return
        t = self.trials[self.index]
        chosen, other = t[choice][0], t["B" if choice == "A" else "A"][0]
        self.tally[chosen] += 1
        self.answers.append((t["name"], chosen, other))
        self.feedback.value = (f"Trial {self.index + 1} ({t['name']}): A was <b>{t['A'][0]}</b>, "
                               f"B was <b>{t['B'][0]}</b>. You picked {chosen}.")
        self.index += 1
        self._show_trial()
