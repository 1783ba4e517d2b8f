"""An event body answered as HTML reads as the same words whichever reader reads it: the
one-pass reader of Graph's plain form agrees with HTMLParser wherever it reads at all."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connectors.m365 import events
from tests.fuzzing import FUZZ
from tests.graph.eventjson import _render_body as render_body

GRAPH_ANSWER = (  # as Graph answers a write (its documented examples), with a style block
    '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
    '<style type="text/css" style="display:none">\r\n<!--\r\np\r\n\t{margin-top:0;\r\n'
    "\tmargin-bottom:0}\r\n-->\r\n</style></head>\r\n<body>\r\n"
    '<div class="PlainText">Service: Haircut<br>\r\nNotes: 5 &lt; 6 &amp; caf&eacute;</div>\r\n'
    "</body>\r\n</html>\r\n"
)
FRAGMENTS = [
    "<html>", "</html>", "<head>", "</head>", "<HEAD >", "<title>", "</title>", "<title/>",
    "<body>", "</body>", "<br>", "<br/>", "<br />", "<p class='x'>", "</p>", '<meta a="b">',
    "<style>", "</style>", "<STYLE type=text/css>", "<script>", "</script>", "</SCRIPT >",
    "<o:p>", "</o:p>", "<!-- c -->", "<!DOCTYPE html>", "<?x?>", "<", ">", "</", "/>", "&",
    "&amp;", "&lt;", "&#62;", "&eacute", "&nosuch;", "a", "Bb", " ", "\r\n", "\t", "word",
    "<a href=x/y>", "<a href=z/>", "</a>", "<div\n id='d'>", "</div >",
]


def reference(content: str) -> list[str]:
    reader = events._HtmlText()
    reader.feed(content)
    reader.close()
    return reader.words


def test_graph_answers_read_in_one_pass() -> None:
    written = "Service: Haircut\nNotes: 5 < 6 & café"
    for content in (GRAPH_ANSWER, render_body({"contentType": "text", "content": written},
                                              None)["content"]):
        assert events._plain_html_words(content) == reference(content)
    assert " ".join(reference(GRAPH_ANSWER)) == " ".join(written.split())


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join))
def test_the_plain_form_reader_agrees_with_htmlparser(content: str) -> None:
    plain = events._plain_html_words(content)
    if plain is not None:
        assert plain == reference(content)
    body = events.body_text({"contentType": "html", "content": content})
    assert body == " ".join(reference(content))
