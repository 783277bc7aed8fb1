"""Within-person designs: which studies are analysed paired, and in which words.

A within-person study gives every patient both conditions: at once, on two sides or two
organs (split-face, split-scalp, both eyes or limbs), or in turn (a crossover trial). Its two
"arms" are the same patients, so their outcomes are correlated and the effect is computed
paired, with the within-person correlation `paired_r` where the source prints no paired
analysis (Cochrane Handbook 23.2.6-23.2.7; Elbourne et al. 2002, doi 10.1093/ije/31.1.140).
The paired estimators are the same for every kind (`metareview.stats.paired`): the mean of the
within-person differences for an MD, the per-condition SD as standardiser for an SMD
(Handbook 23.2.7.2), the marginal method of Becker & Balagtas for a binary outcome. The kind
changes only the words a derivation is told in. For a crossover trial the paired analysis
assumes no carry-over and no period effect beyond what the source's own analysis removed
(Handbook 23.2.3), which the extractor notes when the source discusses it.

`design: within_person` names its kind in `within_person_kind`; the earlier design values
`split_face` and `crossover` name theirs themselves (`schema.DESIGNS_WITH_KIND`).
"""

from __future__ import annotations

from metareview.review.effect import missing
from metareview.review.schema import DESIGNS_WITH_KIND

# What one "arm" of a within-person study is, per kind.
UNITS = {"split_face": "side", "split_scalp": "side", "crossover": "period",
         "paired_organs": "organ"}


def kind_of(study) -> str:
    """The within-person kind of a study (a studies.csv row), or "" for other designs."""
    design = str(study["design"])
    if design in DESIGNS_WITH_KIND:
        return DESIGNS_WITH_KIND[design]
    if design != "within_person":
        return ""
    kind = study.get("within_person_kind") if hasattr(study, "get") else None
    # the validator asks for the kind; a design without one is still analysed paired
    return "within_person" if missing(kind) else str(kind)


def is_within_person(study) -> bool:
    """True for a study whose two arms are the same patients (analysed paired)."""
    return bool(kind_of(study))


def unit_of(study) -> str:
    """"side", "period" or "organ": what one arm of a within-person study is."""
    return UNITS.get(kind_of(study), "condition")


def kind_words(study) -> str:
    """" (crossover)" etc. for a derivation's text; "" for split-face studies, whose
    derivations read as they always have."""
    kind = kind_of(study)
    return "" if kind in ("", "split_face") else f" ({kind.replace('_', ' ')})"
