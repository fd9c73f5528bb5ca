#!/usr/bin/env python3
"""The usual pandas recipe for the same question, as the speed baseline: load the Dify messages
export and sum tokens and cost per UTC day and model.

    python3 benches/pandas_baseline.py messages.csv            # plain read_csv (every column)
    python3 benches/pandas_baseline.py messages.csv --usecols  # tuned: only the five columns
    ... --no-pyarrow   # as on a machine without pyarrow: pandas 3 then keeps strings as Python objects
"""
import sys

if "--no-pyarrow" in sys.argv:
    sys.modules["pyarrow"] = None  # makes `import pyarrow` fail, as if it were not installed
import pandas as pd

cols = ["model_id", "message_tokens", "answer_tokens", "total_price", "created_at"]
df = pd.read_csv(sys.argv[1], usecols=cols if "--usecols" in sys.argv else None)
df["day"] = pd.to_datetime(df["created_at"], format="ISO8601").dt.floor("D")
out = df.groupby(["day", "model_id"])[["message_tokens", "answer_tokens", "total_price"]].sum()
print(len(out), out["total_price"].sum())
