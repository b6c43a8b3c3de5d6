"""Give the messages of a filled benchmark database the texts of ``metrics.py``'s fill.

    .venv/bin/python benchmarks/vary_text.py [--sqlite FILE] [--postgres URL]

Fills before 2026-12-07 stored two texts for all 4 million messages of the 10M
databases, which tell nothing about text search.  ``metrics.py``'s messages now
take their text from ``_text(conversation, seq, sender)`` alone, so this rewrites
each stored message's text in place to what a fill today would store, without
refilling (25 minutes a backend).  Run it before a migration that indexes the
text (schema SQLite 19, PostgreSQL 20), which then indexes these.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from metrics import _text

_CHUNK = 50_000


def _sqlite(path: str) -> int:
    connection = sqlite3.connect(path)
    rows = connection.execute(
        "SELECT rowid, conversation_id, seq, sender FROM events WHERE type = 'message'"
    ).fetchall()
    for start in range(0, len(rows), _CHUNK):
        connection.executemany(
            "UPDATE events SET content = ? WHERE rowid = ?",
            [
                (_text(cid, seq, sender), rowid)
                for rowid, cid, seq, sender in rows[start : start + _CHUNK]
            ],
        )
        connection.commit()
    connection.close()
    return len(rows)


async def _postgres(url: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT project_id, id, conversation_id, seq, sender FROM events WHERE type = 'message'"
        )
        await connection.execute(
            "CREATE TEMP TABLE texts (project_id bigint, id text, content text)"
        )
        await connection.copy_records_to_table(
            "texts",
            records=[(r[0], r[1], _text(r[2], r[3], r[4])) for r in rows],
        )
        await connection.execute(
            "UPDATE events e SET content = t.content FROM texts t"
            " WHERE e.project_id = t.project_id AND e.id = t.id"
        )
        await connection.execute("VACUUM ANALYZE events")
    finally:
        await connection.close()
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite")
    parser.add_argument("--postgres")
    args = parser.parse_args()
    if args.sqlite:
        begin = time.perf_counter()
        count = _sqlite(args.sqlite)
        print(f"SQLite: {count:,} messages in {time.perf_counter() - begin:.0f} s")
    if args.postgres:
        begin = time.perf_counter()
        count = asyncio.run(_postgres(args.postgres))
        print(f"PostgreSQL: {count:,} messages in {time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    main()
