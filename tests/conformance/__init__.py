"""MLink conformance: the local server and srmlink's clients against the spec."""
