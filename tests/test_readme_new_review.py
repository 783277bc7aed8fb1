"""The README's new-review steps, followed as written on a small new review.

The commands are read from README.md (the first bash block of "**A review.**" and the block
of "**Undoing a new review.**"), not repeated here, and run one by one in a copy of the
repository without reviews (`support.empty_clone`); the line "# edit ..." is where a person
edits review.yaml and fills in the sheets, which the test does with three trials of metadat's
dat.bcg (risk ratio). Each step must succeed and leave what the README says it leaves.
Before: the README ran `make checksums` before `make codebook` (the next run then failed on
the codebook's checksum), never named `make record` for a new review, and suggested
`git checkout` to undo an untracked folder.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from support import empty_clone, make_in, rewrite_sheet

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
NAME = "my-review"
SOURCE = {"source_url": "https://wviechtb.github.io/metadat/reference/dat.bcg.html",
          "source_level": "dataset"}
# dat.bcg trials 1, 2 and 4: tpos and tpos + tneg of each group
TRIALS = [("Aronson1948", 1948, (4, 123), (11, 139)),
          ("FergusonSimes1949", 1949, (6, 306), (29, 303)),
          ("HartSutherland1977", 1977, (62, 13598), (248, 12867))]
REVIEW_YAML = """\
title: BCG vaccine against tuberculosis (three trials)
question: Does BCG vaccination prevent tuberculosis?
years: [1940, 1990]
conditions: {tuberculosis: Tuberculosis}
intervention_classes: {bcg: BCG vaccine}
subgroups: [design]
favours: {treatment: BCG vaccine, control: no vaccine}
"""


def _block_after(heading: str) -> list[str]:
    """The command lines of the first ```bash block after `heading` in README.md."""
    start = README.index(heading)
    block = re.search(r"```bash\n(.*?)```", README[start:], flags=re.S)
    assert block is not None, f"no bash block after {heading!r}"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def _fill_in(folder: Path) -> None:
    """What a person does at "# edit ...": review.yaml, studies, arms and the outcome."""
    (folder / "review.yaml").write_text(REVIEW_YAML, encoding="utf-8")
    studies, arms = [], []
    for number, (study_id, year, treated, control) in enumerate(TRIALS, start=1):
        studies.append({"study_id": study_id, "citation": f"{study_id}, in Colditz 1994",
                        "year": year, "design": "parallel", "randomised": "true",
                        "condition": "tuberculosis", "intervention_class": "bcg",
                        "intervention": "BCG vaccine", "comparator": "no vaccine",
                        "source_location": f"dataset dat.bcg, trial {number}", **SOURCE})
        for arm, role, (events, total) in (("vaccinated", "treatment", treated),
                                           ("not vaccinated", "control", control)):
            arms.append({"study_id": study_id, "comparison": "bcg_vs_none", "outcome": "tb",
                         "arm": arm, "role": role, "events": events, "total": total,
                         "value_type": "count", "reported_form": "events_total",
                         "source_location": f"dataset dat.bcg, trial {number}", **SOURCE})
    rewrite_sheet(folder / "studies.csv", studies)
    rewrite_sheet(folder / "arms.csv", arms)
    rewrite_sheet(folder / "outcomes.csv", [{"outcome": "tb", "label": "Tuberculosis cases",
                                             "type": "binary", "measure": "RR",
                                             "scale": "cases of tuberculosis",
                                             "direction": "lower_is_better"}])


def _run(root: Path, line: str) -> subprocess.CompletedProcess:
    words = shlex.split(line, comments=True)
    if words[0] == "make":
        return make_in(root, *words[1:])
    assert words[0] == "rm", f"the test knows make and rm, not {line!r}"
    return subprocess.run(words, cwd=root, capture_output=True, text=True, timeout=60)


def _expect(root: Path, line: str, done: subprocess.CompletedProcess) -> None:
    """What each step of the README leaves behind."""
    out = done.stdout + done.stderr
    raw, results = root / "data" / "raw" / NAME, root / "results" / f"{NAME}.json"
    if line.startswith("make new-review"):
        assert (raw / "review.yaml").is_file() and (root / "params" / f"{NAME}.yaml").is_file()
        assert f"make codebook REVIEW={NAME}" in done.stdout  # its "Next:" in the same order
    elif line.startswith("make codebook"):
        assert "| `tb` | Tuberculosis cases |" in (raw / "CODEBOOK.md").read_text() or (
            "Tuberculosis cases" in (raw / "CODEBOOK.md").read_text())
    elif line.startswith("make checksums"):
        assert f"{NAME}: accepted" in done.stdout
        assert "CODEBOOK.md" in (raw / "SHA256SUMS").read_text()
    elif line.startswith("make reports") and raw.is_dir():
        assert (root / "reports" / NAME / "06_summary.html").is_file()
        assert "make checksums" not in out  # no checksum left to accept
    elif line.startswith("make record"):
        assert results.is_file() and f"wrote results/{NAME}.json" in done.stdout
    elif line.startswith("make check"):
        assert f"{NAME}: ok" in done.stdout
    elif line.startswith("make reports"):  # after the undo
        assert NAME not in (root / "reports" / "index.html").read_text()


@pytest.mark.slow
def test_the_readme_new_review_steps_work_in_their_order(tmp_path):
    steps = _block_after("**A review.**")
    undo = _block_after("**Undoing a new review.**")
    commands = [line.split("#")[0].strip() for line in steps if not line.startswith("#")]
    # the order that works: the codebook is accepted with the sheets, then run and recorded
    assert [c.split()[1] for c in commands] == ["new-review", "codebook", "checksums",
                                                "reports", "record", "check"]
    assert any(line.startswith("# edit") for line in steps)
    assert "git checkout" not in " ".join(undo)

    root = empty_clone(tmp_path)
    for line in steps:
        if line.startswith("#"):
            _fill_in(root / "data" / "raw" / NAME)
            continue
        done = _run(root, line)
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        _expect(root, line, done)

    for line in undo:
        done = _run(root, line)
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        _expect(root, line, done)
    for left in (f"data/raw/{NAME}", f"params/{NAME}.yaml", f"data/processed/{NAME}",
                 f"reports/{NAME}", f"results/{NAME}.json"):
        assert not (root / left).exists(), left
    # and nothing of it is left for make check to trip on: the index's links resolve
    from metareview.run.record import broken_links

    assert broken_links(root / "reports" / "index.html") == []


def test_the_readme_says_why_the_codebook_comes_first():
    """The reason is given beside the commands, and the old advice is gone."""
    section = README[README.index("**A review.**"):README.index("## Coming from RevMan")]
    assert "`make codebook` after `make checksums`" in section
    assert "make record REVIEW=bcg-vaccine" in section
    assert "git checkout` cannot remove them" in section
