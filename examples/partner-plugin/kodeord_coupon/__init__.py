"""Example partner plugin for Kodeord: one discount coupon per phone number."""
