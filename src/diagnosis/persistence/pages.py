"""A page of rows and how many match in all, read as of one moment.

Two statements (the page, then a count) each see the latest commit: neither a SQLite read
outside a transaction nor PostgreSQL's autocommit reads (db.py) hold a snapshot across them. A
row committed between the two gave a page of 2 items with a total of 3 (a monitor's runs while
its schedule ran). The count here is a window over the page's own statement, so both come from
one snapshot; only a page past the end, which has no row to carry the count, counts apart.
"""

from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.ext.asyncio import AsyncConnection

# The window column's label: no table of the service has a column by that name.
_TOTAL = "page_total_"


async def read_page(
    conn: AsyncConnection, query: Select[Any], counting: Select[Any]
) -> tuple[list[dict[str, Any]], int]:
    """`query` (ordered, offset and limited) with `count(*) over ()`, and `counting` (its WHERE
    without the page) only when the page is empty. Rows come back without the window column."""
    windowed = query.add_columns(func.count().over().label(_TOTAL))
    rows = (await conn.execute(windowed)).mappings().all()
    if not rows:
        return [], int((await conn.execute(counting)).scalar_one())
    page = [{key: value for key, value in row.items() if key != _TOTAL} for row in rows]
    return page, int(rows[0][_TOTAL])
