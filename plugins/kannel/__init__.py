"""Kannel gateway: inbound through an sms-service get-url/post-url, outbound through /cgi-bin/sendsms, delivery reports by dlr-url."""
