"""The strict JSON reader's number fields: only ASCII digits count as digits."""

import pytest

from webapp.jsoninput import JSONInputError, int_field


@pytest.mark.parametrize("text", ["¹", "²3", "٣", "１２", "1_000", "+-1", "", " "])
def test_digit_lookalikes_are_refused_naming_the_field(text):
    with pytest.raises(JSONInputError) as refused:
        int_field({"channels": text}, "channels", default=1, low=0, high=100)
    assert refused.value.field == "channels"


@pytest.mark.parametrize(("text", "value"), [("7", 7), (" 42 ", 42), ("-3", -3), (5, 5), (6.0, 6)])
def test_plain_whole_numbers_are_read(text, value):
    assert int_field({"n": text}, "n", default=0, low=-10, high=100) == value
