#!/usr/bin/env python3
"""The same question in polars, streaming: scan the Dify messages export and sum tokens and cost
per UTC day and model, on every core, without holding the file.

    python3 benches/polars_baseline.py messages.csv"""
import sys

import polars as pl

out = (
    pl.scan_csv(sys.argv[1], infer_schema_length=10000)
    .group_by(
        pl.col("created_at").str.to_datetime("%Y-%m-%d %H:%M:%S%.f").dt.truncate("1d").alias("day"),
        "model_id",
    )
    .agg(pl.col("message_tokens").sum(), pl.col("answer_tokens").sum(), pl.col("total_price").sum())
    .collect(engine="streaming")
)
print(out.height, out["total_price"].sum())
