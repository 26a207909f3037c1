"""RFC 8288 ``Link`` headers, read just far enough to find a page's ``rel="next"``."""

from __future__ import annotations

import re

# One link-value: <URI> followed by ;-separated parameters, some quoted (which may hold , and ;).
_LINK = re.compile(r'\s*<([^>]*)>((?:\s*;\s*[^;,="]+\s*(?:=\s*(?:"(?:[^"\\]|\\.)*"|[^;,"]*))?)*)')
_PARAM = re.compile(r'\s*;\s*([^;,="\s]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,"]*))?')


def parse_link_header(value: str | None) -> dict[str, str]:
    """Each relation type to its URI, the first link winning; malformed parts are skipped.

    >>> parse_link_header('<https://a/x?p=2>; rel="next", <https://a/x?p=9>; rel=last')
    {'next': 'https://a/x?p=2', 'last': 'https://a/x?p=9'}
    """
    links: dict[str, str] = {}
    text = value or ""
    position = 0
    while position < len(text):
        match = _LINK.match(text, position)
        if match is None:
            comma = text.find(",", position + 1)
            if comma < 0:
                break
            position = comma + 1
            continue
        uri, params = match.group(1), match.group(2)
        for name, raw in _PARAM.findall(params):
            if name.lower() == "rel" and raw:
                rels = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
                for rel in rels.lower().split():
                    links.setdefault(rel, uri.strip())
        position = match.end()
        rest = text[position:].lstrip()
        if not rest.startswith(","):
            break
        position = len(text) - len(rest) + 1
    return links
