#!/usr/bin/env python3
"""Writes a month of synthetic AWS CUR 2.0 lines (the CSV delivery of Data Exports) for the bill-side
throughput benchmark: hourly Amazon Bedrock token lines per model, IAM principal and token kind,
among the EC2 and S3 lines a real account's report is mostly made of.

    python3 benches/gen_cur.py OUT_DIR [ROWS]    # default 1,000,000 lines

The columns are those of fixtures/aws/cur2_bedrock.csv (see fixtures/README.md for their source).
Deterministic (fixed seed)."""

import csv
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

COLUMNS = [
    "identity_line_item_id", "identity_time_interval", "bill_payer_account_id",
    "line_item_usage_account_id", "line_item_line_item_type", "line_item_usage_start_date",
    "line_item_usage_end_date", "line_item_product_code", "line_item_usage_type",
    "line_item_operation", "line_item_resource_id", "line_item_usage_amount",
    "line_item_currency_code", "line_item_unblended_rate", "line_item_unblended_cost",
    "line_item_iam_principal", "pricing_unit", "product", "tags",
]
ACCOUNT = "123456789012"
# Bedrock models by usage-type name, with their per-1K-token input and output rates.
BEDROCK = {
    "Claude4.6Sonnet": (Decimal("0.003"), Decimal("0.015")),
    "Claude3.5Haiku": (Decimal("0.0008"), Decimal("0.004")),
}
PRINCIPALS = [f"arn:aws:sts::{ACCOUNT}:assumed-role/dify-app-{i}/worker" for i in range(8)]
INSTANCES = ["m5.large", "c6i.xlarge", "r6g.2xlarge", "t3.medium"]
EC2_RATE = {"m5.large": "0.096", "c6i.xlarge": "0.17", "r6g.2xlarge": "0.4032", "t3.medium": "0.0416"}


def main():
    out = Path(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    hours = 31 * 24
    per_hour = max(1, rows // hours)
    written = 0
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(out / "cur2.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for h in range(hours):
            if written >= rows:
                break
            t0 = start + timedelta(hours=h)
            t1 = t0 + timedelta(hours=1)
            interval = f"{fmt(t0)}/{fmt(t1)}"
            for k in range(min(per_hour, rows - written)):
                line_id = f"{rng.getrandbits(64):016x}"
                if k % 4 == 0:  # a Bedrock token line
                    model = rng.choice(list(BEDROCK))
                    kind, rate = rng.choice([("input-tokens", 0), ("output-tokens", 1)])
                    rate = BEDROCK[model][rate]
                    qty = Decimal(rng.randint(1, 400_000)) / 1000
                    w.writerow([
                        line_id, interval, ACCOUNT, ACCOUNT, "Usage", fmt(t0), fmt(t1),
                        "AmazonBedrockService", f"USE1-{model}-{kind}", "InvokeModelInference", "",
                        f"{qty}", "USD", f"{rate}", f"{qty * rate}", rng.choice(PRINCIPALS), "1K tokens",
                        json.dumps({"product_name": "Amazon Bedrock"}), json.dumps({"user_team": "search"}),
                    ])
                elif k % 4 == 3:  # S3 storage of a bucket
                    gb = Decimal(rng.randint(1, 10**6)) / 1000
                    w.writerow([
                        line_id, interval, ACCOUNT, ACCOUNT, "Usage", fmt(t0), fmt(t1), "AmazonS3",
                        "TimedStorage-ByteHrs", "StandardStorage", f"bucket-{rng.randrange(500)}",
                        f"{gb}", "USD", "0.0000319635", f"{gb * Decimal('0.0000319635')}", "",
                        "GB-Mo", json.dumps({"product_name": "Amazon Simple Storage Service"}), "{}",
                    ])
                else:  # an EC2 instance hour
                    itype = rng.choice(INSTANCES)
                    w.writerow([
                        line_id, interval, ACCOUNT, ACCOUNT, "Usage", fmt(t0), fmt(t1), "AmazonEC2",
                        f"BoxUsage:{itype}", "RunInstances", f"i-{rng.getrandbits(68):017x}", "1",
                        "USD", EC2_RATE[itype], EC2_RATE[itype], "", "Hrs",
                        json.dumps({"product_name": "Amazon Elastic Compute Cloud"}),
                        json.dumps({"user_team": rng.choice(["search", "web", "data"])}),
                    ])
                written += 1


if __name__ == "__main__":
    main()
