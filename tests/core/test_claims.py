"""Claims: verdicts computed from metrics, flipping when a metric crosses its band."""

import math

import pytest

from dynml.core.claims import (
    FAILS,
    HOLDS,
    NOT_MEASURED,
    AtLeast,
    AtMost,
    Between,
    Claim,
    IsTrue,
    LessThan,
    Within,
    count_verdicts,
    scoreboard_markdown,
    scoreboard_rows,
)

# (relation, a value that holds, a value that fails) for each relation on one metric
CASES = [
    (AtMost(1.0), 1.0, 1.0 + 1e-9),
    (AtLeast(0.97), 0.97, 0.9699),
    (Between(0.9, 1.1), 1.1, 1.1001),
    (Between(0.9, 1.1), 0.9, 0.8999),
    (Within(4.93e-3, 0.03), 4.93e-3 * 1.0299, 4.93e-3 * 1.0301),
    (Within(4.93e-3, 0.03), 4.93e-3 * 0.9701, 4.93e-3 * 0.9699),
    (IsTrue(), True, False),
    (AtMost(1.0), [0.1, 1.0], [0.1, 1.01]),  # a list must hold elementwise
]


@pytest.mark.parametrize("relation, good, bad", CASES)
def test_verdict_flips_in_both_directions(relation, good, bad):
    claim = Claim("c", "m", relation, paper="p")
    assert claim.evaluate({"m": good})["verdict"] == HOLDS
    assert claim.evaluate({"m": bad})["verdict"] == FAILS
    assert claim.evaluate({"m": good})["verdict"] == HOLDS  # and back


@pytest.mark.parametrize("relation, good, _bad", CASES)
def test_absent_metric_is_not_measured_and_nan_fails(relation, good, _bad):
    claim = Claim("c", "m", relation)
    assert claim.evaluate({})["verdict"] == NOT_MEASURED
    assert claim.evaluate({"m": None})["verdict"] == NOT_MEASURED
    assert claim.evaluate({"m": math.nan})["verdict"] == FAILS
    assert claim.evaluate({"other": good})["verdict"] == NOT_MEASURED


def test_two_metric_relation_and_its_factor():
    claim = Claim("a at most a third of b", ("a", "b"), LessThan(1 / 3))
    assert claim.evaluate({"a": 1.0, "b": 3.0})["verdict"] == HOLDS
    assert claim.evaluate({"a": 1.01, "b": 3.0})["verdict"] == FAILS
    assert claim.evaluate({"a": 1.0})["verdict"] == NOT_MEASURED
    strict = Claim("a < b", ("a", "b"), LessThan(strict=True))
    assert strict.evaluate({"a": 1.0, "b": 1.0})["verdict"] == FAILS
    # a baseline whose error blew up (+inf) is beaten by any finite error; ours infinite or
    # either NaN fails
    assert claim.evaluate({"a": 0.97, "b": float("inf")})["verdict"] == HOLDS
    assert claim.evaluate({"a": float("inf"), "b": float("inf")})["verdict"] == FAILS
    assert claim.evaluate({"a": 0.97, "b": float("nan")})["verdict"] == FAILS
    assert claim.evaluate({"a": float("nan"), "b": 3.0})["verdict"] == FAILS
    assert claim.evaluate({"a": 0.97, "b": float("-inf")})["verdict"] == FAILS


def test_quick_band_is_used_only_in_quick_mode():
    claim = Claim("c", "m", AtMost(0.03), quick=AtMost(0.15))
    full, quick = claim.evaluate({"m": 0.1}), claim.evaluate({"m": 0.1}, quick=True)
    assert (full["verdict"], full["band_used"]) == (FAILS, "full")
    assert (quick["verdict"], quick["band_used"]) == (HOLDS, "quick")
    no_quick_band = Claim("c", "m", AtMost(0.03))
    assert no_quick_band.evaluate({"m": 0.1}, quick=True)["band_used"] == "full"


def test_claims_refuse_a_relation_of_the_wrong_arity():
    with pytest.raises(ValueError):
        Claim("c", "m", LessThan())
    with pytest.raises(TypeError):
        Claim("c", "m", 0.5)


def test_scoreboard_counts_match_the_claims():
    claims = [Claim(f"c{i}", "m", AtMost(float(i))) for i in range(5)]
    results = [c.evaluate({"m": 2.5}) for c in claims] + [claims[0].evaluate({})]
    rows = scoreboard_rows([("exp-a", "quick", results[:3]), ("exp-b", "full", results[3:])])
    assert len(rows) == 6 and rows[0]["experiment"] == "exp-a" and rows[-1]["mode"] == "full"
    counts = count_verdicts(rows)
    assert counts == {HOLDS: 2, FAILS: 3, NOT_MEASURED: 1}
    text = scoreboard_markdown(rows)
    assert "6 claims: 2 hold, 3 fail, 1 not measured" in text
    assert text.count("\n| exp-") == 6
