"""The strict JSON reader: only ASCII digits count as digits; nesting and number sizes are
bounded before anything is converted, and the refusal names the field."""

import pytest

from webapp.jsoninput import MAX_DEPTH, JSONInputError, int_field, json_parse


@pytest.mark.parametrize("text", ["¹", "²3", "٣", "１２", "1_000", "+-1", "", " "])
def test_digit_lookalikes_are_refused_naming_the_field(text):
    with pytest.raises(JSONInputError) as refused:
        int_field({"channels": text}, "channels", default=1, low=0, high=100)
    assert refused.value.field == "channels"


@pytest.mark.parametrize(("text", "value"), [("7", 7), (" 42 ", 42), ("-3", -3), (5, 5), (6.0, 6)])
def test_plain_whole_numbers_are_read(text, value):
    assert int_field({"n": text}, "n", default=0, low=-10, high=100) == value


@pytest.mark.parametrize(("text", "message", "field"), [
    ("[" * MAX_DEPTH + "]" * MAX_DEPTH + " ", None, None),  # 64 deep is read
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested more than 64 deep", None),
    ("[" * 100_000, "nested more than 64 deep", None),  # not even closed
    ('{"a": [{"b": ' + "7" * 5000 + "}]}", "a[0].b must be a finite number of at most", "a[0].b"),
    ('{"box": [1, ' + "9" * 401 + "]}", "box[1] must be a finite number of at most 30", "box[1]"),
    ('{"x": 0.' + "1" * 31 + "}", "x must be a finite number of at most 30", "x"),
    ('{"x": 1e' + "0" * 40 + "1}", "x must be a finite number of at most 30", "x"),
    ('{"x": 1e309}', "x must be a finite number.", "x"),
    ('{"x": [NaN]}', "x[0] must be a finite number.", "x[0]"),
    ('{"s": "' + "[" * 500 + "9" * 500 + '\\"]"}', None, None),  # inside a string: text
    ('{"a": 1,}', "Not valid JSON", None),
])  # fmt: skip
def test_depth_and_number_sizes_are_bounded_naming_the_field(text, message, field):
    if message is None:
        json_parse(text)
        return
    with pytest.raises(JSONInputError) as refused:
        json_parse(text)
    assert message in str(refused.value) and refused.value.field == field


def test_a_long_plain_number_is_read_and_bytes_must_be_utf8():
    assert json_parse(b'{"n": ' + b"9" * 30 + b', "f": 0.1234567890123456}') == {
        "n": int("9" * 30), "f": 0.1234567890123456}
    with pytest.raises(JSONInputError, match="not UTF-8"):
        json_parse(b'{"a": "\xff"}')
