"""Security audit and access review: live cluster → findings and effective privileges → report."""
