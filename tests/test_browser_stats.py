"""The statistics page in a real browser: the chart is drawn, the table matches operators.csv downloaded
with the same parameters, sorting and filters work through htmx, a figure opens its conversations, and a
year of hourly data is drawn (the drawing time is printed, not asserted).

Runs on SQLite only (a browser run costs seconds; tests/test_stats_pages.py covers both databases).
Pictures for docs/guide.md, in both languages and at both widths: test-artifacts/guide/stats-*.png,
stats-drill-*.png, stats-operator-*.png, stats-year-*.png.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from proxy.models import Community, Operator, Role
from proxy.runtime.app import create_app
from proxy.stats.operators import OPERATORS_CSV_HEADER
from tests.browser_fixtures import browser, log_in_page  # noqa: F401
from tests.guide_shots import opening, shoot_guide
from tests.stats_fixtures import MSK, build_worked_example
from tests.stats_pages_fixtures import seed_year_of_hours
from web.views.stats import SUMMED

pytestmark = pytest.mark.browser
WAIT_MS = 15_000
DRAWN = "#chart[data-chart-state=drawn]"

# Pixels of the chart's canvas: how many are painted at all, and how many are close to the colour of
# the incoming bars' fill and of the median reaction line (charts.js COLORS).
COUNT_PIXELS = """
(canvas) => {
  const ctx = canvas.getContext("2d");
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const near = (i, [r, g, b]) => Math.abs(data[i] - r) < 30 && Math.abs(data[i + 1] - g) < 30
    && Math.abs(data[i + 2] - b) < 30 && data[i + 3] > 200;
  let painted = 0, incoming = 0, median = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0) painted++;
    if (near(i, [0xb7, 0xcf, 0xf0])) incoming++;
    if (near(i, [0xe8, 0x59, 0x0c])) median++;
  }
  return { painted, incoming, median, total: data.length / 4 };
}
"""

# data-col -> data-value of every operator row and of the totals row, in page order.
TABLE_CELLS = """
() => Array.from(document.querySelectorAll("#operators-table tr[data-operator], #operators-table tr[data-totals]"))
  .map(tr => Object.fromEntries(Array.from(tr.querySelectorAll("[data-col]"))
    .map(cell => [cell.dataset.col, cell.dataset.value])))
"""


@pytest.fixture
async def db_url(sqlite_factory):
    """One backend only: a fresh SQLite database."""
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


@pytest.fixture
async def stats_server(aiohttp_server, settings):
    """The app listening on a port (no workers: the stats pages need none)."""
    return await aiohttp_server(create_app(settings))


def _watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def test_stats_page_shows_a_chart_and_the_table_of_operators_csv(browser, stats_server) -> None:  # noqa: F811
    ex = await build_worked_example()
    base = str(stats_server.make_url("/"))
    context = await browser.new_context(
        viewport={"width": 1400, "height": 900}, accept_downloads=True, locale="ru-RU"
    )
    page = await context.new_page()
    errors = _watch_errors(page)
    await log_in_page(page, base, ex.maria)
    await page.goto(base + "stats?from=2024-03-04&to=2024-03-06&bucket=hour")

    chart = page.locator("#chart[data-chart-state=drawn]")
    await chart.wait_for(timeout=WAIT_MS)
    assert await chart.get_attribute("data-points") == "72"
    pixels = await page.locator("#chart canvas").evaluate(COUNT_PIXELS)
    assert pixels["painted"] > 0.01 * pixels["total"], pixels  # axes, grid, bars, lines
    assert pixels["incoming"] > 200 and pixels["median"] > 50, pixels

    # The table against operators.csv downloaded through the page's own link.
    link = page.locator("a[data-export='operators.csv']")
    href = await link.get_attribute("href")
    assert parse_qs(urlsplit(href).query) == {"from": ["2024-03-04"], "to": ["2024-03-06"]}
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    exported = list(csv.reader(io.StringIO(Path(await download.path()).read_text(encoding="utf-8"))))
    assert exported[0] == OPERATORS_CSV_HEADER
    *rows, totals = await page.evaluate(TABLE_CELLS)
    assert [list(row.values()) for row in rows] == exported[1:]
    for column in SUMMED:
        index = OPERATORS_CSV_HEADER.index(column)
        assert int(totals[column]) == sum(int(line[index]) for line in exported[1:]), column
    assert totals["reaction_count"] == "4"
    anna = page.locator(f"#operators-table tr[data-operator='{ex.anna.id}']")
    assert (await anna.locator("td[data-col=handled]").inner_text()).strip() == "2"
    assert "over-sla" in await anna.locator("td[data-col=reaction_p90_s]").get_attribute("class")
    await shoot_guide(page, ex.maria, "stats", opening(page.url, DRAWN))

    # Sorting swaps the table only and puts the order in the address.
    await page.locator("#operators-table a[data-sort=handled]").click()
    await page.wait_for_url("**sort=handled**")
    await page.locator("#operators-table th[aria-sort=ascending] a[data-sort=handled]").wait_for()
    order = await page.locator("#operators-table tr[data-operator]").evaluate_all(
        "rows => rows.map(r => r.dataset.operator)"
    )
    assert order == [str(ex.boris.id), str(ex.anna.id), "outside"]
    assert await page.locator("#operators").count() == 1 and await page.locator("#chart").count() == 1
    assert await page.locator("#chart").get_attribute("data-chart-state") == "drawn"  # not redrawn
    # A filter keeps the order and redraws the chart for the new choice.
    await page.select_option("select[name=bucket]", "day")
    await page.wait_for_url("**bucket=day**")
    assert "sort=handled" in page.url
    await page.locator("#chart[data-chart-state=drawn][data-points='3']").wait_for(timeout=WAIT_MS)

    # A figure opens the conversations behind it, and a row opens the conversation.
    await anna.locator("td[data-col=reaction_max_s] a").click()
    await page.locator("#drill-table").wait_for()
    assert await page.locator("#drill-table tbody tr").count() == 1
    assert await page.locator(".drill-total").get_attribute("data-figure") == "1"
    # From the slowest reaction to all of anna's reactions, slowest first.
    await page.locator("a[data-related=reactions]").click()
    await page.wait_for_url("**metric=reactions**")
    assert await page.locator("#drill-table tbody tr").count() == 3
    await shoot_guide(page, ex.maria, "stats-drill", opening(page.url, "#drill-table tbody tr"))
    await page.locator(f"#drill-table a[href='/conversations/{ex.a.id}']").first.click()
    await page.wait_for_url(f"**/conversations/{ex.a.id}")
    await page.locator("#timeline").wait_for()
    assert errors == []
    await context.close()

    # An operator: their own row, ranking and series; no community figures. Boris serves the shop, so his
    # chart has the shop's incoming volume beside his own replies.
    await ex.boris.communities.add(ex.community)
    page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="ru-RU")
    errors = _watch_errors(page)
    await log_in_page(page, base, ex.boris)
    await page.goto(base + "stats?from=2024-03-04&to=2024-03-06")
    await page.locator("#chart[data-chart-state=drawn]").wait_for(timeout=WAIT_MS)
    rows = await page.locator("#operators-table tr[data-operator]").evaluate_all(
        "rows => rows.map(r => r.dataset.operator)"
    )
    assert rows == [str(ex.boris.id)]
    assert await page.locator("#communities-table").count() == 0
    await shoot_guide(page, ex.boris, "stats-operator", opening(page.url, DRAWN))
    assert errors == []
    await page.close()


async def test_a_year_of_hourly_data_is_drawn(browser, stats_server) -> None:  # noqa: F811
    shop = await Community.create(vk_group_id=1001, name="Shop", sla_seconds=900)
    manager = await Operator.create(login="maria", display_name="Maria", password_hash="x", role=Role.MANAGER)
    incoming = await seed_year_of_hours(2023, shop, MSK)
    base = str(stats_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="ru-RU")
    errors = _watch_errors(page)
    await log_in_page(page, base, manager)

    started = time.perf_counter()
    await page.goto(base + "stats?from=2023-01-01&to=2023-12-31&bucket=hour")
    chart = page.locator("#chart[data-chart-state=drawn]")
    await chart.wait_for(timeout=60_000)
    page_to_chart = time.perf_counter() - started
    assert await chart.get_attribute("data-points") == "8760"
    pixels = await page.locator("#chart canvas").evaluate(COUNT_PIXELS)
    assert pixels["incoming"] > 1000 and pixels["median"] > 100, pixels
    series = await page.evaluate(
        "async (src) => (await fetch(src)).json()", await page.locator("#chart").get_attribute("data-src")
    )
    assert sum(series["incoming"]) == incoming

    # Draw the same data again five times in the page, each time until uPlot's draw hook has run.
    redraws = await page.evaluate(
        """async (data) => {
          const box = document.createElement("div");
          document.body.appendChild(box);
          const times = [];
          for (let n = 0; n < 5; n++) {
            const t0 = performance.now();
            await new Promise((done) => {
              const chart = new uPlot({
                width: 1300, height: 320,
                series: [{}, { stroke: "blue" }, { stroke: "red", spanGaps: true }],
                hooks: { draw: [(u) => { times.push(performance.now() - t0); done(); setTimeout(() => u.destroy()); }] },
              }, [data.t, data.incoming, data.reaction_median_s], box);
            });
          }
          box.remove();
          return times;
        }""",
        series,
    )
    draw_ms = float(await chart.get_attribute("data-draw-ms"))
    total_ms = float(await chart.get_attribute("data-total-ms"))
    print(
        f"\nyear of hourly data: {len(series['t'])} points, {incoming} incoming items; "
        f"first draw {draw_ms:.1f} ms, fetch + draw {total_ms:.1f} ms, "
        f"page load to drawn chart {page_to_chart * 1000:.0f} ms; "
        f"plain redraws {', '.join(f'{t:.1f}' for t in redraws)} ms"
    )
    assert errors == []

    async def year_drawn(shot) -> None:
        await shot.goto(page.url)
        await shot.locator(DRAWN).wait_for(timeout=60_000)

    await shoot_guide(page, manager, "stats-year", year_drawn, full_page=False)
