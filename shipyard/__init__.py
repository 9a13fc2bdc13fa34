"""Shipyard: CI/CD as Prefect flows. This package is the core and holds no Prefect imports."""
