#!/usr/bin/env python3
"""DuckDB's groupby of a trace or a bill export, the yardstick for reading those sources:

    python3 benches/duckdb_sources.py langfuse langfuse_observations.csv
    python3 benches/duckdb_sources.py cur cur2.csv

`langfuse`: a Langfuse UI export's GENERATION rows, tokens and cost per UTC day and model.
`cur`: an AWS CUR 2.0 CSV's Amazon Bedrock lines, usage amount and cost per UTC day and usage type.
`read_csv` sniffs and types the columns and reads the file whole on every core."""
import sys

import duckdb

QUERIES = {
    "langfuse": """
        select date_trunc('day', startTime::timestamp) as day, model,
               sum(inputUsage), sum(outputUsage), sum(totalCost) as cost
        from read_csv('{f}') where type = 'GENERATION'
        group by all""",
    "cur": """
        select date_trunc('day', line_item_usage_start_date::timestamp) as day,
               line_item_usage_type,
               sum(line_item_usage_amount), sum(line_item_unblended_cost) as cost
        from read_csv('{f}') where line_item_product_code like 'AmazonBedrock%'
        group by all""",
}
kind, path = sys.argv[1], sys.argv[2]
rows = duckdb.sql(QUERIES[kind].format(f=path)).fetchall()
print(len(rows), sum(r[-1] or 0 for r in rows))
