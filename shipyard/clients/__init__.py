"""Clients of outside services, built from config at a flow's entry and passed down."""
