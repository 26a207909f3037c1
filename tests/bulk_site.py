"""A stand-in for the FFIEC's "Download Bulk Data" page on 127.0.0.1, for the dataset run tests.

It behaves as the real page does where a scraper can trip: choosing a product in ``#ListBox1``
posts the form back (an ASP.NET postback) and the page comes back with that product's periods in
``#DatesDropDownList``, not in date order; the format is a radio (``#TSVRadioButton``); the
``#Download_0`` button is disabled for a moment after every load; the form carries a hidden
token the server checks on the download POST (a wrong one shows an error in ``#lblMessage``);
and the zip is streamed in chunks, offered by ``Content-Disposition`` as
``FFIEC CDR Call Bulk All Schedules MMDDYYYY.zip``. The page lives at the real page's path, so
the bundled recipe runs against it unchanged through ``--source-url``. ``fail_next(n)`` makes the
next ``n`` page loads answer 503.
"""

from __future__ import annotations

import contextlib
import html
import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from urllib.parse import parse_qsl

from overlord.samples.call_report_bulk import bulk_zip

PATH = "/public/PWS/DownloadBulkData.aspx"
PRODUCTS = {
    "ReportingSeriesSinglePeriod": "Call Reports -- Single Period",
    "ReportingSeriesSubsetSchedulesFourPeriods": "Call Reports -- Balance Sheet, Income "
    "Statement, Past Five Periods",
}
PERIODS = (date(2025, 12, 31), date(2026, 3, 31), date(2025, 9, 30))  # as the page lists them


def _page(token: str, product: str | None, message: str = "") -> bytes:
    products = "".join(
        f'<option value="{value}"{" selected" if value == product else ""}>{html.escape(text)}'
        "</option>"
        for value, text in PRODUCTS.items()
    )
    dates = ""
    if product is not None:
        dates = "".join(
            f'<option value="{i + 140}">{p:%m/%d/%Y}</option>' for i, p in enumerate(PERIODS)
        )
    return f"""<!doctype html>
<html><head><title>Download Bulk Data</title></head><body>
<form method="post" action="{PATH}" id="form1">
<input type="hidden" name="__VIEWSTATE" value="{token}">
<input type="hidden" name="__EVENTTARGET" id="target" value="">
<span id="lblMessage">{html.escape(message)}</span>
<select name="ListBox1" id="ListBox1" size="4"
        onchange="document.getElementById('target').value='ListBox1'; this.form.submit();">
{products}</select>
<select name="DatesDropDownList" id="DatesDropDownList">{dates}</select>
<input type="radio" name="Format" id="TSVRadioButton" value="TSV"><label>Tab Delimited</label>
<input type="radio" name="Format" id="XBRLRadiobutton" value="XBRL" checked><label>XBRL</label>
<input type="submit" name="Download_0" id="Download_0" value="Download" disabled>
</form>
<script>
  setTimeout(() => {{ document.getElementById("Download_0").disabled = false; }}, 500);
</script>
</body></html>""".encode()


class BulkSite:
    def __init__(self) -> None:
        self.url = ""
        self.token = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._failures = 0
        self.downloads: list[dict[str, str]] = []

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    def _failing(self) -> bool:
        with self._lock:
            if self._failures > 0:
                self._failures -= 1
                return True
            return False


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # chunked transfer needs it; every other answer has a length

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != PATH:
            self._send(404, b"<h1>Not found</h1>")
        elif self.server.site._failing():
            self._send(503, b"<h1>Service Unavailable</h1>")
        else:
            self._send(200, _page(self.server.site.token, None))

    def do_POST(self) -> None:
        site = self.server.site
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(parse_qsl(self.rfile.read(length).decode("ascii")))
        if self.path != PATH:
            self._send(404, b"<h1>Not found</h1>")
            return
        if site._failing():
            self._send(503, b"<h1>Service Unavailable</h1>")
            return
        product = form.get("ListBox1")
        if form.get("__VIEWSTATE") != site.token:
            self._send(200, _page(site.token, product, "Your session has expired. Try again."))
            return
        if form.get("__EVENTTARGET") == "ListBox1" or "Download_0" not in form:
            self._send(200, _page(site.token, product))  # the postback: now with periods
            return
        chosen = form.get("DatesDropDownList", "")
        if product != "ReportingSeriesSinglePeriod" or form.get("Format") != "TSV":
            self._send(200, _page(site.token, product, "Choose a single period, tab delimited."))
            return
        try:
            period = PERIODS[int(chosen) - 140]
        except (ValueError, IndexError):
            self._send(200, _page(site.token, product, "Choose a reporting period."))
            return
        with site._lock:
            site.downloads.append(form)
        self._stream(period)

    def _stream(self, period: date) -> None:
        data = bulk_zip(period)
        name = f"FFIEC CDR Call Bulk All Schedules {period:%m%d%Y}.zip"
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Disposition", f'attachment; filename="{name}"')
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(data), 512):
            piece = data[start : start + 512]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
            time.sleep(0.02)
        self.wfile.write(b"0\r\n\r\n")

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: BulkSite) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.site = site


@contextlib.contextmanager
def serving() -> Iterator[BulkSite]:
    site = BulkSite()
    server = _Server(site)
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
