"""The HTML report a reviewer reads: a data model built from the run's plain records
(``model``), readable stage records and causes (``text``, ``hints``), the page
(``render``) and the bundle of files written beside it (``bundle``).

Outcomes are rendered generically: any status string a check record carries (PASS, FAIL,
BLOCKED, SKIPPED, NOT RUN, ...) gets its row, its count and its filter.
"""
