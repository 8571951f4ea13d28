"""Workloads: client operations and the model that checks them."""
