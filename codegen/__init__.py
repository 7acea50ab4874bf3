"""The srmlink generator: schema sources -> reconciled IR -> rendered Python modules."""

from __future__ import annotations

__all__ = ["GENERATOR_VERSION"]

# Bumped whenever generated output changes for the same schema; recorded in every header.
GENERATOR_VERSION = "1"
