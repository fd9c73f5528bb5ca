#!/usr/bin/env python3
"""The same question in DuckDB, as the speed yardstick: read the Dify messages export and sum
tokens and cost per UTC day and model, on every core.

    python3 benches/duckdb_baseline.py messages.csv

`read_csv` sniffs the file and types the columns (`created_at` as a timestamp); the groupby is
DuckDB's parallel hash aggregate. The file is read whole: DuckDB skips no column of a CSV."""
import sys

import duckdb

rows = duckdb.sql(
    f"""
    select date_trunc('day', created_at) as day, model_id,
           sum(message_tokens), sum(answer_tokens), sum(total_price) as cost
    from read_csv('{sys.argv[1]}')
    group by all
    """
).fetchall()
print(len(rows), sum(r[4] for r in rows))
