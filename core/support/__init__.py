"""What every stage uses: exceptions (``errors``), the plugin manager (``manager``), the embedded Redis
(``redis_server``), the gateways' HTTP client (``httpclient``) and the CSV reader (``csvfile``)."""
