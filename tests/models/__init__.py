"""Tests of mangarec.models."""
