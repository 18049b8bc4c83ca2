"""Deep links (#41): every tab and every section a claim points to has a URL, and odd URLs open the Paper tab."""
from __future__ import annotations

from resnet_demo.ui import links
from resnet_demo.views import claims


def test_a_link_round_trips_through_its_url():
    for link in (*links.CLAIMS.values(), *(s.link for s in links.TOUR)):
        query = dict(part.split("=") for part in link.url()[1:].split("&"))
        assert links.parse(query) == link


def test_every_claim_and_every_tab_has_a_link_to_a_known_section():
    assert set(links.CLAIMS) == {c.id for c in claims.claims()}
    for link in links.CLAIMS.values():
        assert link.tab in links.TABS and link.section in links.SECTIONS[link.tab]
    assert {s.link.tab for s in links.TOUR} >= {"paper", "anatomy", "depth", "gradflow", "classify", "inside"}
    assert 5 <= len(links.TOUR) <= 7


def test_odd_queries_fall_back_and_never_raise():
    assert links.parse({}) == links.Link("paper")
    assert links.parse({"tab": "<script>", "section": "x"}) == links.Link("paper")
    assert links.parse({"tab": "inside", "section": "nope"}) == links.Link("inside")
    assert links.parse({"tab": "anatomy", "net": "../../etc"}) == links.Link("anatomy")
    assert links.parse({"tab": "depth", "net": "resnet50"}) == links.Link("depth")  # a network only for Anatomy
