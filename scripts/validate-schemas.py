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

import yaml  # Debian: python3-yaml

with open(f"{root}/schemas/openapi.yaml") as f:
    spec = yaml.safe_load(f)
assert spec["openapi"].startswith("3.1"), "schemas/openapi.yaml must be OpenAPI 3.1"
try:
    from openapi_spec_validator import validate as validate_openapi
except ImportError:
    print("schemas: openapi.yaml parses; full OpenAPI validation skipped (pip package openapi-spec-validator not installed)")
else:
    import os
    validate_openapi(spec, base_uri="file://" + os.path.abspath(f"{root}/schemas/openapi.yaml"))
    print("schemas: openapi.yaml is valid OpenAPI 3.1")
