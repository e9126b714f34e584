"""Vendor-faithful simulators: Harvest, Productive, Float, BambooHR."""
