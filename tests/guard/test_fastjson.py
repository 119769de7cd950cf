"""`leakline.guard.fastjson` gives the values (decoding) and the bytes (encoding) the stdlib gives, except
where the module's docstring says: floats in orjson's shortest spelling, NaN/Infinity encoded as null."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.guard import fastjson

# Values JSON round-trips exactly: no NaN/Infinity, floats compared as values.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8), children, max_size=5),
    ),
    max_leaves=20,
)


def _stdlib(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _without_floats(value: object) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, list):
        return all(_without_floats(v) for v in value)
    if isinstance(value, dict):
        return all(_without_floats(v) for v in value.values())
    return True


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_decoding_gives_the_stdlib_value_and_encoding_decodes_to_it(value: object) -> None:
    text = _stdlib(value).decode("utf-8")
    decoded = fastjson.loads(text)
    assert decoded == json.loads(text)
    assert type(decoded) is type(json.loads(text))
    assert json.loads(fastjson.dumps(value)) == json.loads(text)
    if _without_floats(value):  # the same bytes, floats aside (orjson spells them its own way)
        assert fastjson.dumps(value) == _stdlib(value)


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    # orjson alone reads 123456789012345678901234567890 as 1.2345678901234568e+29.
    text = '{"seed": 123456789012345678901234567890, "small": 12}'
    assert fastjson.loads(text) == {"seed": 123456789012345678901234567890, "small": 12}
    assert fastjson.dumps({"seed": 2**70}) == b'{"seed":1180591620717411303424}'


def test_what_orjson_refuses_is_read_as_the_stdlib_reads_it() -> None:
    assert math.isnan(fastjson.loads('{"x": NaN}')["x"])
    assert fastjson.loads('["\\ud800"]') == ["\ud800"]  # a lone surrogate escape, for the caller to judge
    assert fastjson.loads("[1e999]") == [math.inf]
    with pytest.raises(json.JSONDecodeError) as caught:
        fastjson.loads('{"a": 1,}')
    assert (caught.value.msg, caught.value.pos) == ("Expecting property name enclosed in double quotes", 8)


def test_the_strict_decoder_keeps_its_refusals() -> None:
    class Refused(ValueError):
        pass

    def refuse(token: str) -> object:
        raise Refused(token)

    strict = json.JSONDecoder(parse_constant=refuse)
    assert fastjson.loads_strict('{"n": 1.5}', strict) == {"n": 1.5}
    with pytest.raises(Refused, match="NaN"):
        fastjson.loads_strict('{"n": NaN}', strict)
    with pytest.raises(json.JSONDecodeError):
        fastjson.loads_strict('{"n": }', strict)


def test_what_orjson_cannot_encode_is_encoded_or_refused_as_the_stdlib_does() -> None:
    assert fastjson.dumps({1: "a"}) == b'{"1":"a"}'
    with pytest.raises(UnicodeEncodeError):
        fastjson.dumps({"a": "\ud800"})  # as `json.dumps(...).encode("utf-8")` raised
    assert fastjson.dumps({"a": "é\u2028\x1f\"\\/"}) == _stdlib({"a": "é\u2028\x1f\"\\/"})
