"""Which length-tagged claims a sequence-length study may score.

A study trains at lengths `T_1 < ... < T_k` and states claims at "the shorter length" and at
"the longer length (T >= long_from)". A number measured at one length must never be scored
against a claim about another: "short" is recorded only from the first length when it is
below `long_from`, "long" only from the last length when it reaches `long_from`. A run with
no length >= `long_from` leaves the long claims not measured.
"""


def length_tags(lengths: tuple[int, ...], length: int, long_from: int) -> list[str]:
    """The claim tags ("short", "long") a run at `length`, one of `lengths`, records."""
    tags = []
    if length == lengths[0] and length < long_from:
        tags.append("short")
    if length == lengths[-1] and length >= long_from:
        tags.append("long")
    return tags
