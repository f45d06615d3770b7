#!/usr/bin/env python3
"""Validates the shipped metric catalog against its JSON Schema, and checks the schemas themselves."""
import json
import sys

import jsonschema

root = sys.argv[1] if len(sys.argv) > 1 else "."
with open(f"{root}/schemas/metric-catalog.schema.json") as f:
    catalog_schema = json.load(f)
with open(f"{root}/schemas/service-ping.schema.json") as f:
    ping_schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(catalog_schema)
jsonschema.Draft202012Validator.check_schema(ping_schema)
with open(f"{root}/schemas/metrics.catalog.json") as f:
    jsonschema.validate(json.load(f), catalog_schema)
print("schemas: metrics.catalog.json is valid")
