"""Each sheet of the schema names its rules, and every rule belongs to a sheet.

`schema.Sheet.rules` names a sheet's rules beyond its columns' own (within a row, over the whole
sheet, the wording for a repeated key) in `review.sheet_rules.RULES`, so a new sheet is one
`Sheet` and, when it has such rules, one entry there: nothing keyed by file name.
"""

from __future__ import annotations

from metareview.review import schema, sheet_rules


def test_every_named_rule_exists_and_every_rule_is_named():
    named = {sheet.rules for sheet in schema.SHEETS if sheet.rules}
    assert named == set(sheet_rules.RULES)
    # one sheet per set of rules
    assert len(named) == len([sheet for sheet in schema.SHEETS if sheet.rules])


def test_sheets_without_rules_of_their_own():
    assert {sheet.filename for sheet in schema.SHEETS if not sheet.rules} == {
        "extraction_checks.csv", "grade.csv"}


def test_a_review_keeps_the_rules_of_its_sheets():
    class Plan:  # the parts of review.yaml that sheets_for reads
        years = (1990, 2030)
        intervention_classes = ("drug",)
        conditions = ()
        study_columns = ()
        required = {}

    adapted = {sheet.filename: sheet.rules for sheet in schema.sheets_for(Plan())}
    assert adapted == {sheet.filename: sheet.rules for sheet in schema.SHEETS}


def test_the_rules_of_a_sheet_are_what_each_row_is_checked_by():
    rules = sheet_rules.RULES
    assert rules["contrasts"].whole  # the basis column of the sheet, once
    assert rules["arms"].duplicate is not None  # a repeated arm said in the sheet's words
    assert all(entry.row is not None for entry in rules.values())
