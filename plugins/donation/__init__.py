"""Premium-SMS donations (MA-7).

Fixed amounts on keywords or numbers, each a premium price within
0.80-9.90 SEK, thank-you replies, totals per campaign, operator and day, and
settlement reports. The features arrive with the televoting issue.
"""
