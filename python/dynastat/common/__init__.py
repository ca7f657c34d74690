"""Tensor and dtype definitions shared by the public modules."""
