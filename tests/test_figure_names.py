"""Which figures are saved as SVG beside their PNG (`report.figure_names`), and `save_figure`
writing or leaving out the SVG by that rule."""

from __future__ import annotations

from matplotlib.figure import Figure
from PIL import Image

from metareview.report import figures
from metareview.report.figure_names import has_vector, is_main_figure
from metareview.report.pooled import ALL_STUDIES, MAIN, forest_name


def test_main_figures_of_the_main_analysis_have_a_vector():
    for name in ("forest_scar_volume", "prisma_flow", "rob_summary", "rob_traffic_light",
                 "subgroup_scar_volume_class", "proportions_response", "bubble_los_year",
                 "effect_direction", forest_name("scar", MAIN)):
        assert is_main_figure(name) and has_vector(name), name


def test_sensitivity_variants_and_diagnostics_are_png_only():
    assert is_main_figure(forest_name("scar", ALL_STUDIES))  # still shown first on the index
    for name in (forest_name("scar", ALL_STUDIES), "funnel_scar", "cumulative_scar",
                 "leave_one_out_scar", "baujat_scar", "bayes_posterior_scar"):
        assert not has_vector(name), name


def _figure() -> Figure:
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    return figures.style.set_alt_text(fig, "a line")


def test_save_figure_without_vector_writes_the_png_only_and_drops_an_old_svg(tmp_path):
    png, svg = figures.save_figure(_figure(), tmp_path / "funnel_x")
    assert svg is not None and svg.is_file()
    png, svg = figures.save_figure(_figure(), tmp_path / "funnel_x", vector=False)
    assert svg is None and png.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["funnel_x.png"]
    with Image.open(png) as image:
        # 2 by 1 inches at PNG_DPI (bbox "tight" trims a little of the white margin)
        assert abs(image.size[0] - 2 * figures.PNG_DPI) < 0.2 * figures.PNG_DPI
