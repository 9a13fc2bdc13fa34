"""The security stage: scanners, one finding model, policy, SARIF."""
