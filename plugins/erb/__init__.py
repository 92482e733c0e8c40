"""Vetting of outgoing marketing against the ERB's rules for premium services (MA-9).

Price next to the premium number, company name, address and customer-service
number in the marketing, SMS receipts for charges over 10 SEK, and the
reconfirmation rules of subscription services. The features arrive with the
ERB issue; this plugin will veto marketing texts that break them.
"""
