"""A stand-in for a regulator's "Download Bulk Data" page (FFIEC CDR), served by the test site.

It behaves the way such pages do, because those behaviours are what break recipes: product
radios whose choice fills the period list a moment later (in no particular order), a format
radio, a second list of layouts, a Download button that stays disabled while the page
"initialises", a hidden form token checked on POST (a stale one shows an error in the page's
error element instead of a file), and a zip streamed in chunks with a name that has spaces.
Failures are asked for in the query, counted per ``key`` so tests sharing a site stay apart:
``fail=N`` answers the first N loads with 500 (``fail=always``: every load), ``stale=N`` renders
an expired token the first N times (``stale=always``: every time); ``nodata=1`` shows
`NO_DATA` in the error element, instead of periods, once a product is chosen.
"""

from __future__ import annotations

import html
import io
import zipfile
from datetime import date

# The periods offered, deliberately not in date order (as on the real page, whose order is
# the database's); option values are opaque ids, so only the visible text names a period.
PERIODS = [date(2025, 12, 31), date(2026, 3, 31), date(2025, 6, 30), date(2025, 9, 30)]
PERIODS += [date(2024, 12, 31), date(2025, 3, 31), date(2024, 9, 30)]
NEWEST = max(PERIODS)
PERIOD_IDS = {str(150 + i): period for i, period in enumerate(PERIODS)}
PRODUCTS = {
    "ReportingSeriesSinglePeriod": "Call Reports -- Single Period",
    "ReportingSeriesSubsetSchedulesFourPeriods": (
        "Call Reports -- Balance Sheet, Income Statement, Past Five Periods"
    ),
}
LAYOUTS = {"all": "All Schedules", "rc": "Balance Sheet (RC)", "ri": "Income Statement (RI)"}
EXPIRED = "Your session has expired. Please reload the page and try again."
NO_DATA = "No data available for this period."
CHUNK_BYTES = 8 << 10

PAGE = """<!doctype html>
<html><head><title>Download Bulk Data</title></head><body>
<h1>Download Bulk Data</h1>
<form id="bulk" method="post" action="/bulk/download?{query}">
  <input type="hidden" name="__REQUESTTOKEN" value="{token}">
  <fieldset><legend>Available Products</legend>{products}</fieldset>
  <label>Reporting period end date
    <select id="DatesDropDownList" name="period" disabled>
      <option value="">-- Select a period --</option>
    </select></label>
  <label>Layout <select id="Layout" name="layout">{layouts}</select></label>
  <fieldset><legend>Available File Formats</legend>
    <label><input type="radio" id="ExportFormat_TSV" name="format" value="tsv"
      checked> Tab Delimited</label>
    <label><input type="radio" id="ExportFormat_XBRL" name="format" value="xbrl"> XBRL</label>
  </fieldset>
  <div id="help" hidden>Files are zipped.</div>
  <button id="Archive" type="button" disabled>Archived data (retired)</button>
  <button id="Download_0" type="submit" disabled>Download</button>
  <span id="ErrorMessage" class="error">{message}</span>
</form>
<script>
  const periods = {periods};
  const noData = {no_data};
  setTimeout(() => {{ document.getElementById("Download_0").disabled = false; }}, 500);
  for (const radio of document.querySelectorAll("input[name=product]")) {{
    radio.addEventListener("change", () => setTimeout(() => {{
      if (noData) {{
        document.getElementById("ErrorMessage").textContent = "{no_data_message}";
        return;
      }}
      const list = document.getElementById("DatesDropDownList");
      list.length = 1;
      for (const [value, text] of periods) list.add(new Option(text, value));
      list.disabled = false;
    }}, 150));
  }}
</script>
</body></html>
"""


def render(query: str, token: str, message: str = "", *, no_data: bool = False) -> bytes:
    """The page; ``query`` goes back in the form's action so the POST is counted the same."""
    products = "".join(
        f'<label><input type="radio" id="{pid}" name="product" value="{pid}"> '
        f"{html.escape(label)}</label><br>"
        for pid, label in PRODUCTS.items()
    )
    layouts = "".join(f'<option value="{v}">{html.escape(t)}</option>' for v, t in LAYOUTS.items())
    periods = [[pid, period.strftime("%m/%d/%Y")] for pid, period in PERIOD_IDS.items()]
    return PAGE.format(
        query=html.escape(query),
        token=token,
        products=products,
        layouts=layouts,
        message=html.escape(message),
        periods=str(periods).replace("'", '"'),
        no_data="true" if no_data else "false",
        no_data_message=NO_DATA,
    ).encode()


def file_name(period: date) -> str:
    return f"FFIEC CDR Call Bulk All Schedules {period.strftime('%m%d%Y')}.zip"


def bulk_zip(form: dict[str, str]) -> bytes:
    """A zip recording what the form asked for, plus enough rows to arrive in many chunks."""
    period = PERIOD_IDS[form["period"]]
    chosen = {k: form.get(k, "") for k in ("product", "layout", "format")}
    lines = "".join(f"{k}={v}\n" for k, v in {"period": period.isoformat(), **chosen}.items())
    rows = "IDRSSD\tRCON2170\n" + "".join(f"{i}\t{i * 7919 % 100003}\n" for i in range(6000))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        stamp = (period.year, period.month, period.day, 0, 0, 0)
        archive.writestr(zipfile.ZipInfo("selection.txt", date_time=stamp), lines)
        archive.writestr(zipfile.ZipInfo("Schedule RC.txt", date_time=stamp), rows)
    return buffer.getvalue()


def selection(data: bytes) -> dict[str, str]:
    """What a downloaded zip says was asked for: period, product, layout and format."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read("selection.txt").decode()
    return dict(line.split("=", 1) for line in text.splitlines())
