"""The Swedish do-not-call register, NIX-Telefon (NIX-1 to NIX-9).

Single-number checks, washing of a customer's call lists (removed or marked),
a history of every check with the register version used, and a veto that keeps
telemarketing away from registered numbers. The features arrive with the NIX issue.
"""
