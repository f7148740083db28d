"""The role auditor: access policy (YAML) → least-privilege state → plan → apply."""
