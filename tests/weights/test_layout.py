"""Segment layout arithmetic: where segments are and where a transfer may resume (checked by brute force)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.weights.format import TAG_SIZE, Layout, segment_count


@st.composite
def layouts(draw: st.DrawFn) -> Layout:
    segment_size = draw(st.integers(1, 40))
    plaintext = draw(st.integers(0, 300))
    count = segment_count(plaintext, segment_size)
    return Layout(header_length=draw(st.integers(149, 200)), segment_size=segment_size,
                  body_size=plaintext + count * TAG_SIZE)


@settings(max_examples=100, deadline=None)
@given(layouts(), st.data())
def test_resume_offset_is_the_last_boundary_not_after(layout: Layout, data: st.DataObject) -> None:
    end = layout.ciphertext_size
    boundaries = [b for b in range(end + 1) if layout.is_boundary(b)]
    starts = [layout.segment_offset(i) for i in range(layout.count)]
    assert boundaries == sorted({0, *starts, end})
    offset = data.draw(st.integers(0, end + 50))
    assert layout.boundary_at_or_before(offset) == max(b for b in boundaries if b <= offset)


@settings(max_examples=100, deadline=None)
@given(layouts())
def test_segments_tile_the_body(layout: Layout) -> None:
    position = layout.header_length
    plaintext = 0
    for index in range(layout.count):
        assert layout.segment_offset(index) == position
        length = layout.segment_ct_length(index)
        assert TAG_SIZE <= length <= layout.ct_segment_size
        assert layout.plaintext_offset(index) == plaintext
        position += length
        plaintext += length - TAG_SIZE
    assert position == layout.ciphertext_size
    assert plaintext == layout.plaintext_size
