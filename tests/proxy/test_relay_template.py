"""Templates against the generic split they stand in for (relay_template, relay_scan):
a block a template matches is split exactly as the generic path splits it,
and a block the generic path accepts is matched by its shape's template."""

from __future__ import annotations

import itertools
import unittest.mock

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.proxy import relay_scan as rs
from sipsec.proxy import relay_template as rt
from sipsec.proxy.relay_template import Templates

_NAMES = [
    b"Via", b"v", b"From", b"f", b"To", b"t", b"Call-ID", b"i", b"CSeq", b"Content-Length",
    b"l", b"Max-Forwards", b"Route", b"Record-Route", b"Contact", b"Content-Type", b"Expires",
    b"X-Odd", b"Via ", b"Bad Name", b"",
]  # fmt: skip
_VALUES = [
    b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx", b"<sip:a@h>;tag=1", b"<sip:b@h>", b"c@h",
    b"1 INVITE", b"0", b"70", b"application/sdp", b"60", b"x",
]  # fmt: skip
_NOISE = [b"", b" ", b"  ", b"\t", b" \t ", b"\r", b"\n", b"\x00", b"\xc3\xa9", b"\xff", b":", b","]


@st.composite
def blocks(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(a head — start line and header lines —, the same head with one line's noise changed)."""
    required = [b"Via", b"From", b"To", b"Call-ID", b"CSeq", b"Content-Length"]
    names = draw(st.lists(st.sampled_from(_NAMES), max_size=4)) + required
    names = draw(st.permutations(names))
    lines = []
    for name in names:
        before = draw(st.sampled_from([b"", b"", b" ", b"\t"]))
        after = draw(st.sampled_from([b"", b"", b" ", b" \t"]))
        lines.append(name + b":" + before + draw(st.sampled_from(_VALUES)) + after)
    head = b"\r\n".join([b"INVITE sip:b@h SIP/2.0", *lines])
    at = draw(st.integers(0, len(head)))
    noisy = head[:at] + draw(st.sampled_from(_NOISE)) + head[at:]
    return head, noisy


_TRIED = [0, 0]  # blocks, of which a template matched


@settings(max_examples=700)
@given(blocks())
def test_a_template_splits_as_the_generic_path(case: tuple[bytes, bytes]) -> None:
    templates: Templates[object] = Templates()
    head, noisy = case
    generic = rs.generic_split(head)
    names = tuple(rs._NAMES.findall(head))
    if generic is not None:
        for _ in range(3):  # seen often enough for a template (keyed by the start line too)
            templates.seen(names, generic[0][4], generic[0])
            templates.seen(names, generic[0][4], generic[0], head[:4])
    for block in (head, noisy):
        at = block.find(b"\r\n")
        if at < 0:
            continue
        # a template reads the header lines; the start line is start_line()'s
        expected = rs.generic_split(b"INVITE sip:b@h SIP/2.0" + block[at:])
        got = templates.match(block[at:])
        # the offset form: keyed by the start line's first bytes as well, so a
        # noisy start line may find no template, never a wrong one
        offset = templates.match(block, at)
        assert offset == got or (offset is None and block[:4] != head[:4])
        _TRIED[0] += 1
        if got is not None:
            _TRIED[1] += 1
            assert expected is not None, block
            assert got == expected, block
        elif block is head and generic is not None and not _blank_ended(head):
            raise AssertionError(f"the template for these names did not match {block!r}")


def _blank_ended(head: bytes) -> bool:
    """A header line ends in a blank: its template may leave it to the generic path."""
    return any(line.endswith((b" ", b"\t")) for line in head.split(b"\r\n"))


def test_templates_were_exercised() -> None:
    if _TRIED[0] == 0:
        return  # run alone
    assert 0 < _TRIED[1] < _TRIED[0]


@settings(max_examples=300)
@given(blocks())
def test_scan_with_templates_is_scan_without(case: tuple[bytes, bytes]) -> None:
    """The whole scanner, warmed (templates made) and cold (generic only): the same Scan."""
    rs._TEMPLATES.clear()  # so the three sightings below make the template
    for head in case:
        data = head + b"\r\n\r\n"
        cold = rs.scan(data)
        names = tuple(rs._NAMES.findall(head))
        split = rs.generic_split(head)
        if split is not None:
            for _ in range(3):
                rs._TEMPLATES.seen(names, split[0][4], split[0], head[:4])
        warm = rs.scan(data)
        assert (cold is None) == (warm is None)
        if cold is not None and warm is not None:
            for name in rs.Scan.__slots__:
                assert getattr(cold, name) == getattr(warm, name), name


_HEAD = b"X\r\nVia: a\r\nFrom: b\r\nTo: c\r\nCall-ID: d\r\nCSeq: 1 A\r\nl: 0"


def _flood(templates: Templates[object], shapes: int, times: int = 3, first: int = 0) -> None:
    """Invented header orders, each seen ``times`` times the generic way."""
    split = rs.generic_split(_HEAD)
    assert split is not None
    for i in range(first, first + shapes):
        names = (b"Via", b"X-%d" % i)
        for _ in range(times):
            # a start line of its own: a key of its own (a key keeps _PER_COUNT)
            templates.seen(names, split[0][4], split[0], b"%04x" % (i & 0xFFFF))


def _entries(templates: Templates[object]) -> int:
    return (
        len(templates._live)
        + sum(len(c) for c in templates._by_count.values())
        + len(templates._sightings)
    )


def test_templates_are_bounded() -> None:
    """A flood of invented shapes: live templates, their lists and the
    sighting counts stay bounded, and compiles are budgeted per generation."""
    templates: Templates[object] = Templates()
    most = 0
    for round_ in range(12):
        _flood(templates, 1000, first=round_ * 1000)
        assert len(templates) <= rt._MOST
        assert sum(len(c) for c in templates._by_count.values()) == len(templates)
        assert templates._made <= rt._PER_GENERATION
        most = max(most, _entries(templates))
    assert most <= 2 * rt._MOST + rt._SIGHTINGS_KEPT
    assert len(templates) == rt._MOST  # 12 generations of 64: it filled and kept evicting


def test_a_shape_seen_after_a_flood_is_templated_again() -> None:
    """The budget recovers: after a flood has filled the table (and spent a
    generation's budget), a legitimate shape seen often gets its template,
    and the least matched flood template makes room for it."""
    templates: Templates[object] = Templates()
    head = b"A sip:b@h SIP/2.0\r\n" + _SIBLINGS[0]
    split = rs.generic_split(head)
    assert split is not None
    names = tuple(rs._NAMES.findall(head))
    at = head.find(b"\r\n")
    # a flood whose templates are then matched, so they are not the least matched
    _flood(templates, 7000)  # five generations: the table fills
    assert len(templates) == rt._MOST
    for _, template in templates._live.values():
        template.hits = 1000
    seen = 0
    while templates.match(head, at) is None:
        templates.seen(names, split[0][4], split[0], head[:4])
        _flood(templates, 5, first=10**6 + seen * 5)  # the flood goes on
        seen += 1
        assert seen <= rt._GENERATION, "never templated again"
    assert templates.match(head, at) == split
    assert len(templates) <= rt._MOST


def test_a_flood_template_ages_out() -> None:
    """Match counts halve every generation: shapes a flood made and matched
    long ago are evicted before ones matched now."""
    templates: Templates[object] = Templates()
    _flood(templates, rt._PER_GENERATION)
    old = {at for at in templates._live}
    for _, template in templates._live.values():
        template.hits = 1 << 12
    for round_ in range(40):  # 40 generations: the old counts have halved to 0
        _flood(templates, 100, times=41, first=1000 + round_ * 100)
        for at, (_, template) in templates._live.items():
            if at not in old:
                template.hits += 1  # matched now
    assert not old & set(templates._live)


_SIBLINGS = [  # one key (as many lines, the same first two bytes): INVITE, ACK/BYE and kin
    b"Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\nMax-Forwards: 70\r\nFrom: <sip:a@h>;tag=1\r\n"
    b"To: <sip:b@h>\r\nCall-ID: c@h\r\nCSeq: 1 INVITE\r\nContact: <sip:a@h>\r\nl: 0",
    b"Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\nMax-Forwards: 70\r\nFrom: <sip:a@h>;tag=1\r\n"
    b"To: <sip:b@h>;tag=2\r\nCall-ID: c@h\r\nRoute: <sip:p;lr>\r\nCSeq: 1 ACK\r\nl: 0",
    b"Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\nMax-Forwards: 70\r\nFrom: <sip:a@h>;tag=1\r\n"
    b"To: <sip:b@h>;tag=2\r\nCall-ID: c@h\r\nCSeq: 2 BYE\r\nX: y\r\nContent-Length: 0",
    b"Vi: x\r\nMax-Forwards: 70\r\nFrom: <sip:a@h>;tag=1\r\n"
    b"To: <sip:b@h>;tag=2\r\nCall-ID: c@h\r\nCSeq: 2 BYE\r\nX: y\r\nContent-Length: 0",
]  # fmt: skip


@settings(max_examples=300)
@given(st.lists(st.sampled_from(range(len(_SIBLINGS))), max_size=30))
def test_templates_sharing_a_key_split_as_the_generic_path_in_any_order(order: list[int]) -> None:
    """Whatever order the hits put a key's templates in, each block is read
    by its own template, as the generic path reads it."""
    templates: Templates[object] = Templates()
    for block in _SIBLINGS[:3]:
        head = b"A sip:b@h SIP/2.0\r\n" + block
        split = rs.generic_split(head)
        assert split is not None
        for _ in range(3):
            templates.seen(tuple(rs._NAMES.findall(head)), split[0][4], split[0])
    for i in order:
        block = b"\r\n" + _SIBLINGS[i]
        got = templates.match(block)
        expected = rs.generic_split(b"A sip:b@h SIP/2.0" + block)
        assert got == (expected if i < 3 else None)
        assert expected is not None or i == 3
    hits = [template.hits for template in templates._by_count[(8, b"Vi", b"")]]
    assert sum(hits) == sum(1 for i in order if i < 3)
    assert all(a >= b for a, b in itertools.pairwise(hits))  # the most matched first


def test_a_block_its_template_leaves_to_the_generic_path_makes_no_second_template() -> None:
    """A value ending in a blank misses its template (the generic path strips
    it): seen again and again, it never compiles the same names twice."""
    templates: Templates[object] = Templates()
    head = b"A sip:b@h SIP/2.0\r\n" + _SIBLINGS[0]
    blank = head.replace(b"Call-ID: c@h", b"Call-ID: c@h ")
    split = rs.generic_split(blank)
    assert split is not None and split[2][b"call-id"] == b"c@h"
    names = tuple(rs._NAMES.findall(blank))
    for _ in range(12):
        templates.seen(names, split[0][4], split[0], blank[:4])
    assert templates._made == 1 and len(templates) == 1
    at = blank.find(b"\r\n")
    assert templates.match(blank, at) is None  # left to the generic path
    assert templates.match(head, at) == rs.generic_split(head)  # the plain one is matched


_SMALL = {"_MOST": 5, "_GENERATION": 6, "_PER_GENERATION": 2, "_SIGHTINGS_KEPT": 8}
_CHECKED = [0, 0]  # examples run, the most generations one went through


@settings(max_examples=400)
@given(st.lists(st.tuples(st.integers(0, 11), st.booleans()), min_size=20, max_size=200))
def test_any_sighting_order_keeps_the_table_bounded_and_consistent(
    events: list[tuple[int, bool]],
) -> None:
    """With small bounds, any order of sightings and matches: never more
    than _MOST live templates, nor more than _PER_GENERATION made in one
    generation; the key lists hold exactly the live templates; and a
    block whose template is live is read as the generic path reads it."""
    heads = [b"A sip:b@h SIP/2.0\r\n" + b"X-%d: v\r\n" % i + _SIBLINGS[i % 3] for i in range(12)]
    _CHECKED[0] += 1
    with unittest.mock.patch.multiple(rt, **_SMALL):
        templates: Templates[object] = Templates()
        for i, match in events:
            head = heads[i]
            split = rs.generic_split(head)
            assert split is not None
            at = head.find(b"\r\n")
            if match:
                got = templates.match(head, at)
                assert got is None or got == split
                continue
            templates.seen(tuple(rs._NAMES.findall(head)), split[0][4], split[0], head[:4])
            _CHECKED[1] = max(_CHECKED[1], templates._generation)
            assert templates._made <= _SMALL["_PER_GENERATION"]
            assert len(templates) <= _SMALL["_MOST"]
            assert len(templates._sightings) <= _SMALL["_SIGHTINGS_KEPT"]
            listed = [t for c in templates._by_count.values() for t in c]
            assert sorted(map(id, listed)) == sorted(id(t) for _, t in templates._live.values())
            assert all(c for c in templates._by_count.values())  # no empty list kept
        for _, template in templates._live.values():
            assert template.born <= templates._generation


def test_the_small_bounds_reached_later_generations() -> None:
    if _CHECKED[0]:  # the property ran (not this test alone)
        assert _CHECKED[1] >= 3  # some cases ran through several generations


def test_clear_forgets_everything_and_makes_again() -> None:
    templates: Templates[object] = Templates()
    _flood(templates, 5000)
    templates.clear()
    assert _entries(templates) == 0 and templates._made == 0
    head = b"A sip:b@h SIP/2.0\r\n" + _SIBLINGS[1]
    split = rs.generic_split(head)
    assert split is not None
    for _ in range(rt._SEEN_BEFORE_COMPILE):
        templates.seen(tuple(rs._NAMES.findall(head)), split[0][4], split[0], head[:4])
    assert templates.match(head, head.find(b"\r\n")) == split
