"""Training progress: a bar on a terminal, one log line per step elsewhere."""

import io
import logging

from rich.console import Console

from alphaloop.grading.pipeline import TrainingProgress


def test_a_terminal_gets_a_bar_with_the_step_and_count():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with TrainingProgress(console) as progress:
        progress("fold-0", 1, 6)
        progress("fold-1", 2, 6)
        task = progress._progress.tasks[0]
        assert (task.completed, task.total, task.fields["step"]) == (2, 6, "fold-1")
    assert progress._progress is None  # stopped on exit
    assert "2/6" in out.getvalue()


def test_elsewhere_each_step_is_one_log_line(caplog):
    console = Console(file=io.StringIO(), force_terminal=False)
    with caplog.at_level(logging.INFO, logger="alphaloop.grading.pipeline"), \
            TrainingProgress(console) as progress:
        progress("fold-0", 1, 6)
        progress("final", 6, 6)
    lines = [r.getMessage() for r in caplog.records if r.name == "alphaloop.grading.pipeline"]
    assert lines == ["training: fold-0 done (1/6)", "training: final done (6/6)"]
