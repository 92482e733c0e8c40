"""46elks-style gateway: inbound form POST, outbound POST /a1/sms, delivery-report callbacks."""
