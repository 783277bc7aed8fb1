"""What a notebook's first cell checks (metareview.run.upstream): the earlier notebooks' outputs
and the parameters they ran with, on the real notebooks without running them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from metareview import files
from metareview.review.params import DEFAULTS
from metareview.run import upstream

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def root(tmp_path, monkeypatch):
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    monkeypatch.setenv(files.ROOT_ENV, str(tmp_path))
    return tmp_path


def _namespace(**values):
    return {**{k: (list(v) if isinstance(v, list) else v) for k, v in DEFAULTS.items()},
            "review": "rev", **values}


def _ran(root: Path, number: str, stem: str, **parameters) -> None:
    """What a runner's run of notebook `stem` leaves: its sign of a run, then its record."""
    processed = root / "data" / "processed" / "rev"
    processed.mkdir(parents=True, exist_ok=True)
    (processed / upstream.SIGN_OF_RUN[number]).write_text("x\n")
    record = root / "reports" / "rev" / ".outputs" / f"{stem}.inputs.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"parameters": _namespace(**parameters)}))


def test_parameters_act_where_the_notebooks_first_use_them(root):
    found = {name: nb.stem for name, nb in upstream.first_uses().items()}
    assert found["exclude_studies"] == "02_effect_sizes"
    assert found["timepoint"] == "02_effect_sizes"
    assert found["tau2_method"] == "03_pooled_models"
    assert found["n_perm"] == "04_subgroups" and found["seed"] == "04_subgroups"
    assert "review" not in found


def test_missing_inputs_stop_the_first_cell_with_one_line_naming_what_to_run(root):
    with pytest.raises(upstream.UpstreamError) as caught:
        upstream.check(_namespace(), "04_subgroups")
    message = str(caught.value)
    assert message == ("04_subgroups of rev needs what 01_data_cleaning writes "
                       "(data/processed/rev/clean_studies.csv is missing): run 01_data_cleaning "
                       "first, or `make reports`, which runs every notebook in order.")
    assert caught.value._render_traceback_() == [f"UpstreamError: {message}"]  # what Jupyter shows
    _ran(root, "01", "01_data_cleaning")
    _ran(root, "02", "02_effect_sizes")
    with pytest.raises(upstream.UpstreamError, match="needs what 03_pooled_models writes"):
        upstream.check(_namespace(), "04_subgroups")
    upstream.check(_namespace(), "03_pooled_models")  # 01 and 02 have run


def test_a_parameter_set_after_the_notebook_where_it_acts_is_an_error_saying_where(root):
    _ran(root, "01", "01_data_cleaning")
    _ran(root, "02", "02_effect_sizes")
    # before: exclude_studies set in notebook 03 was silently ignored
    with pytest.raises(upstream.UpstreamError) as caught:
        upstream.check(_namespace(exclude_studies=["S1"]), "03_pooled_models")
    assert str(caught.value) == (
        "parameter exclude_studies=[S1] cannot act in 03_pooled_models: it acts in "
        "02_effect_sizes (02_effect_sizes ran with exclude_studies=[]). Set it in "
        "params/rev.yaml and run `make reports`, or run from 02: "
        "`python -m metareview.run.pipeline run --review rev --from 02 -p exclude_studies=...`")
    upstream.check(_namespace(tau2_method="DL"), "03_pooled_models")  # acts in 03 itself


def test_a_notebook_run_again_by_hand_has_no_record_to_hold_against(root):
    _ran(root, "01", "01_data_cleaning")
    _ran(root, "02", "02_effect_sizes")
    effects = root / "data" / "processed" / "rev" / "effects.csv"
    later = effects.stat().st_mtime_ns + 2_000_000_000  # 02 run again in JupyterLab
    os.utime(effects, ns=(later, later))
    upstream.check(_namespace(exclude_studies=["S1"]), "03_pooled_models")


def test_without_a_record_only_a_command_line_override_conflicts(root):
    values = _namespace(exclude_studies=["S1"])
    assert upstream.parameter_conflicts("rev", values, "03") == []
    lines = upstream.parameter_conflicts("rev", values, "03", {"exclude_studies": ["S1"]})
    assert len(lines) == 1 and "02_effect_sizes is not part of this run" in lines[0]
